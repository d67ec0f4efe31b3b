// Seeded robustness tests: ≥ 100,000 mutated policy files never crash the loader (they load or
// return issues with positions), and ≥ 1,000,000 texts (one in sixteen random bytes, the rest
// mutated) never crash the detectors and stay within a per-message time bound. Work is split over
// two child tasks to use both cores; they yield now and then so that other suites' async tests are
// not starved meanwhile.
import Foundation
import Testing

@testable import Policy

#if canImport(Glibc)
    import Glibc
#endif

private let policySeeds: [String] = [
    """
    version: 1
    tags:
      phi:
        description: Patient data
        detectors: [uk-nhs, mrn, words]
    detectors:
      mrn:
        type: pattern
        patterns: ['\\bMRN[-: ]?\\d{7}\\b', '(a|b)*c{2,4}']
      words:
        type: keywords
        keywords: [biopsy, "radiation therapy"]
    groups:
      oncology: {tags: [phi]}
    rules:
      - name: phi-on-prem
        priority: 3
        when: {tags: {any: [phi], none: []}, groups: [oncology]}
        allow: {residency: [on-prem], regions: [eu], providers: [local]}

    """,
    "version: 1\nrules:\n  - name: a\n    when: {untagged: true}\n    allow: {residency: [on-prem, vpc, external]}\n",
    "version: 1\nusers:\n  bob: {tags: [x]}\ntags:\n  x: ~\n",
]

private let textSeeds: [String] = [
    "NHS number 943 476 5919", "Card 4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32", "SSN 123-45-6789",
    "NPI 1234567893", "routing 021000021", "mail jane.doe@example.org", "call +44 20 7946 0958",
    "DOB: 14/03/1962", "ICD-10 E11.9, I10", "MRN 0012345 biopsy", "(555) 234-5678", "order ORD-2024-118834",
]

private let tokens = [
    ":", "-", "[", "]", "{", "}", ",", "\n", "  ", "&a ", "*a", "!!str ", "'", "\"", "#", "|", "? ",
    "@", "+", ".", "0", "9", "(", ")", "\\", "*", "{2,", "é", "\u{0}",
]

/// CPU time of the calling thread: unlike wall time it does not grow when a loaded machine
/// preempts the test, so a per-message bound on it cannot flake.
private func threadCPUTime() -> Duration {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return .seconds(spec.tv_sec) + .nanoseconds(spec.tv_nsec)
}

private func randomBytes(_ r: inout SeededRandom, count: Int) -> [UInt8] {
    (0..<count).map { _ in UInt8(truncatingIfNeeded: r.next()) }
}

private func mutate(_ seed: [UInt8], _ r: inout SeededRandom, rounds: Int) -> [UInt8] {
    var bytes = seed
    for _ in 0..<rounds {
        let position = bytes.isEmpty ? 0 : r.int(0...bytes.count - 1)
        switch r.int(0...5) {
        case 0 where !bytes.isEmpty: bytes[position] = UInt8(truncatingIfNeeded: r.next())
        case 1 where !bytes.isEmpty: bytes.remove(at: position)
        case 2: bytes.insert(contentsOf: Array(r.pick(tokens).utf8), at: position)
        case 3 where bytes.count > 4:
            let end = min(bytes.count, position + r.int(1...16))
            bytes.insert(contentsOf: bytes[position..<end], at: r.int(0...bytes.count - 1))
        case 4 where !bytes.isEmpty:
            bytes[position] = UInt8(ascii: r.pick(["0", "1", "5", "9", "a", "Z", " ", "-"]))
        default: bytes.append(contentsOf: Array(r.pick(tokens).utf8))
        }
    }
    return bytes
}

@Suite struct FuzzTests {
    static let policyFiles = 100_000
    static let texts = 1_000_000

    @Test func mutatedPolicyFilesNeverCrashTheLoader() async {
        let loaded = await withTaskGroup(of: (Int, Int).self) { group in
            for worker in 0..<2 {
                group.addTask {
                    var r = SeededRandom(seed: 7 + UInt64(worker))
                    var ok = 0
                    var rejected = 0
                    let seeds = policySeeds.map { Array($0.utf8) }
                    for iteration in 0..<(Self.policyFiles / 2) {
                        // Let other tests' tasks run: this loop would otherwise hold a pool thread.
                        if iteration % 500 == 0 { await Task.yield() }
                        let bytes = mutate(r.pick(seeds), &r, rounds: r.int(1...4))
                        do {
                            _ = try PolicySet.parse(files: [("f.yaml", String(decoding: bytes, as: UTF8.self))])
                            ok += 1
                        } catch let error as PolicyError {
                            rejected += 1
                            if error.issues.isEmpty || error.issues.contains(where: { $0.hint.isEmpty }) {
                                rejected = -1_000_000_000
                            }
                        } catch {
                            rejected = -1_000_000_000
                        }
                    }
                    return (ok, rejected)
                }
            }
            return await group.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
        }
        print("fuzz: \(loaded.0 + loaded.1) policy files, \(loaded.0) loaded, \(loaded.1) rejected with issues")
        #expect(loaded.0 + loaded.1 == Self.policyFiles)
        #expect(loaded.0 > 0 && loaded.1 > 0)
    }

    @Test func mutatedTextsNeverCrashDetectorsAndStayFast() async throws {
        let root = PolicyLoaderTests.repositoryRoot + "/policies"
        let policy = try PolicySet.load(directory: root)
        let results = await withTaskGroup(of: (Int, Duration).self) { group in
            for worker in 0..<2 {
                group.addTask {
                    var r = SeededRandom(seed: 99 + UInt64(worker))
                    let seeds = textSeeds.map { Array($0.utf8) }
                    var hits = 0
                    var slowest = Duration.zero
                    for iteration in 0..<(Self.texts / 2) {
                        if iteration % 5000 == 0 { await Task.yield() }
                        var bytes =
                            r.int(0...15) == 0
                            ? randomBytes(&r, count: r.int(0...256)) : mutate(r.pick(seeds), &r, rounds: r.int(0...3))
                        if r.int(0...7) == 0 { bytes += mutate(r.pick(seeds), &r, rounds: 1) }
                        let text = String(decoding: bytes, as: UTF8.self)
                        let start = threadCPUTime()
                        hits += (try? policy.detect(text).hits.count) ?? 0
                        slowest = max(slowest, threadCPUTime() - start)
                    }
                    return (hits, slowest)
                }
            }
            return await group.reduce((0, Duration.zero)) { ($0.0 + $1.0, max($0.1, $1.1)) }
        }
        print("fuzz: \(Self.texts) texts, \(results.0) findings, slowest message \(results.1) of CPU")
        #expect(results.0 > Self.texts / 4)
        #expect(results.1 < .milliseconds(50))
    }

    /// Long adversarial messages: every detector's worst case stays bounded.
    @Test func adversarialLongMessagesStayBounded() throws {
        let root = PolicyLoaderTests.repositoryRoot + "/policies"
        let policy = try PolicySet.load(directory: root)
        for unit in ["1 ", "1-", "@", "a@", "GB82 ", "MRN ", "NHS ", "dob ", "icd A1", "((((", "9", "a.", "+1 (", "x "]
        {
            let text = String(repeating: unit, count: 65_536 / unit.utf8.count)
            let start = threadCPUTime()
            _ = try? policy.detect(text)
            let elapsed = threadCPUTime() - start
            #expect(elapsed < .milliseconds(500), "'\(unit)' x N took \(elapsed)")
        }
    }
}
