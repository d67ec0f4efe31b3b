// Detector quality on a generated, labelled corpus: valid identifiers of every kind, checksum-invalid
// near-misses, and ordinary text. Prints precision and recall per detector; checksum detectors must
// find every valid item and flag none of the near-misses.
import Foundation
import Testing

@testable import Policy

/// A policy that enables every built-in detector, each under its own tag.
let allDetectorsPolicy: PolicySet = {
    let tags = BuiltinDetector.allCases.map { "  t-\($0.rawValue):\n    detectors: [\($0.rawValue)]" }.joined(
        separator: "\n")
    let yaml =
        "version: 1\ntags:\n\(tags)\nrules:\n  - name: all\n    when: {untagged: true}\n    allow: {residency: [on-prem]}\n"
    return try! PolicySet.parse(files: [("all.yaml", yaml)])
}()

@Suite struct DetectorQualityTests {
    struct Sample {
        var text: String
        var span: Range<Int>
        var item: LabelledItem
    }

    static func corpus(count: Int) -> [Sample] {
        var r = SeededRandom(seed: 20_261_129)
        var samples: [Sample] = []
        let intros = ["Please note: ", "As discussed, ", "Update - ", "", "FYI "]
        for _ in 0..<count {
            for kind in 0..<16 {
                let item: LabelledItem
                switch kind {
                case 0: item = LabelledItem(text: CorpusGenerator.card(&r, valid: true), detector: "credit-card")
                case 1: item = LabelledItem(text: CorpusGenerator.card(&r, valid: false), nearMissOf: "credit-card")
                case 2: item = LabelledItem(text: CorpusGenerator.ssn(&r, valid: true), detector: "us-ssn")
                case 3: item = LabelledItem(text: CorpusGenerator.ssn(&r, valid: false), nearMissOf: "us-ssn")
                case 4: item = LabelledItem(text: CorpusGenerator.iban(&r, valid: true), detector: "iban")
                case 5: item = LabelledItem(text: CorpusGenerator.iban(&r, valid: false), nearMissOf: "iban")
                case 6: item = LabelledItem(text: CorpusGenerator.nhs(&r, valid: true), detector: "uk-nhs")
                case 7: item = LabelledItem(text: CorpusGenerator.nhs(&r, valid: false), nearMissOf: "uk-nhs")
                case 8: item = LabelledItem(text: CorpusGenerator.npi(&r, valid: true), detector: "us-npi")
                case 9: item = LabelledItem(text: CorpusGenerator.npi(&r, valid: false), nearMissOf: "us-npi")
                case 10: item = LabelledItem(text: CorpusGenerator.aba(&r, valid: true), detector: "aba-routing")
                case 11: item = LabelledItem(text: CorpusGenerator.aba(&r, valid: false), nearMissOf: "aba-routing")
                case 12: item = LabelledItem(text: CorpusGenerator.email(&r), detector: "email")
                case 13: item = LabelledItem(text: CorpusGenerator.phone(&r), detector: "phone")
                case 14: item = LabelledItem(text: CorpusGenerator.dob(&r), detector: "dob")
                default: item = LabelledItem(text: CorpusGenerator.icd10(&r), detector: "icd10")
                }
                let before = CorpusGenerator.ordinary(&r) + " " + r.pick(intros)
                let after = ". " + CorpusGenerator.ordinary(&r)
                let start = before.utf8.count
                samples.append(
                    Sample(text: before + item.text + after, span: start..<(start + item.text.utf8.count), item: item))
            }
            // Ordinary text alone.
            let plain = CorpusGenerator.ordinary(&r) + " " + CorpusGenerator.ordinary(&r)
            samples.append(Sample(text: plain, span: 0..<0, item: LabelledItem(text: "")))
        }
        return samples
    }

    @Test func precisionAndRecallPerDetector() throws {
        var truePositives: [String: Int] = [:]
        var falsePositives: [String: Int] = [:]
        var falseNegatives: [String: Int] = [:]
        var nearMissFlags: [String: Int] = [:]
        var nearMisses: [String: Int] = [:]
        for sample in Self.corpus(count: 150) {
            let detection = try allDetectorsPolicy.detect(sample.text)
            var found = false
            for hit in detection.hits {
                let overlaps = hit.range.overlaps(sample.span)
                if overlaps, hit.detector == sample.item.detector {
                    found = true
                    truePositives[hit.detector, default: 0] += 1
                } else {
                    falsePositives[hit.detector, default: 0] += 1
                    if overlaps, hit.detector == sample.item.nearMissOf { nearMissFlags[hit.detector, default: 0] += 1 }
                }
            }
            if let expected = sample.item.detector, !found { falseNegatives[expected, default: 0] += 1 }
            if let nearMiss = sample.item.nearMissOf { nearMisses[nearMiss, default: 0] += 1 }
        }
        print("detector        precision  recall   tp   fp   fn  near-miss flags")
        for detector in BuiltinDetector.allCases.map(\.rawValue) {
            let tp = truePositives[detector, default: 0]
            let fp = falsePositives[detector, default: 0]
            let fn = falseNegatives[detector, default: 0]
            let precision = tp + fp == 0 ? 1 : Double(tp) / Double(tp + fp)
            let recall = tp + fn == 0 ? 1 : Double(tp) / Double(tp + fn)
            let flags = nearMisses[detector].map { "\(nearMissFlags[detector, default: 0])/\($0)" } ?? "-"
            let name = detector.padding(toLength: 15, withPad: " ", startingAt: 0)
            print("\(name) \(String(format: "%9.3f %7.3f %4d %4d %4d", precision, recall, tp, fp, fn))  \(flags)")
            #expect(tp > 0, "\(detector) found nothing")
            if BuiltinDetector(rawValue: detector)!.isChecksummed {
                #expect(fn == 0, "\(detector) missed valid items")
                #expect(nearMissFlags[detector, default: 0] == 0, "\(detector) flagged checksum-invalid near-misses")
                #expect(precision >= 0.99, "\(detector) precision")
            } else {
                #expect(recall >= 0.95, "\(detector) recall")
                #expect(precision >= 0.95, "\(detector) precision")
            }
        }
    }

    @Test func publishedExamplesAreFoundInText() throws {
        let cases: [(String, String)] = [
            ("Pay to GB82 WEST 1234 5698 7654 32 today", "iban"),
            ("IBAN DE89370400440532013000.", "iban"),
            ("Patient NHS number 943 476 5919 seen today", "uk-nhs"),
            ("Card 4111-1111-1111-1111 declined", "credit-card"),
            ("amex 3782 822463 10005 ok", "credit-card"),
            ("Dr Lee, NPI 1234567893, signed", "us-npi"),
            ("Wire via routing number 021000021 please", "aba-routing"),
            ("SSN: 123456789 on file", "us-ssn"),
        ]
        for (text, detector) in cases {
            let detection = try allDetectorsPolicy.detect(text)
            #expect(detection.hits.map(\.detector) == [detector], "\(detector)")
            #expect(detection.tags == ["t-\(detector)"])
        }
    }

    /// Issue 16: an identifier is found whatever stands next to it (a word, a decimal point, a dash);
    /// structure and checksum, not word boundaries, keep other numbers out.
    @Test func numbersGluedToWordsAreFoundByTheirChecksum() throws {
        for (text, detector) in [
            ("ORD-4111111111111111", "credit-card"), ("x4111111111111111", "credit-card"),
            ("4111111111111111.5", "credit-card"), ("4111111111111111-A9", "credit-card"),
            ("GB82WEST123456987654321", "iban"),
        ] {
            #expect(try allDetectorsPolicy.detect(text).hits.map(\.detector) == [detector], "\(text)")
        }
        // Ten digits after an SSN's 3-2 are not an SSN, and a broken checksum stays untagged when glued.
        for text in ["SSN 123-45-67890", "ORD-4111111111111112", "x4111111111111112y"] {
            #expect(try allDetectorsPolicy.detect(text).hits.isEmpty, "\(text)")
        }
    }
}
