// `enclave bench policy`: detectors + decision on a realistic mix (clean and tagged messages, short
// ones and 4 KiB ones, identifiers written the ways issue 16 lists), on one core. Every message is
// also timed through a plain scan of the same bytes (one pass summing them), measured alternately in
// the same run, so the figure is a ratio that survives a loaded machine. The target is
// p99 <= 200 µs per 4 KiB message.
import ArgumentParser
import Foundation
import Policy

#if canImport(Glibc)
    import Glibc
#endif

/// CPU time of this thread in µs: on a shared machine wall-clock percentiles include preemption by
/// other processes, so both are reported.
private func threadCPUMicroseconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) * 1e6 + Double(spec.tv_nsec) / 1e3
}

/// `enclave bench policy`; the lead registers it in the `bench` group next to the other benchmarks.
struct BenchPolicy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Benchmark detectors + decision on a mix of short and 4 KiB messages.")

    @OptionGroup var options: PolicyBenchOptions

    func run() async throws { try options.run() }
}

struct PolicyBenchOptions: ParsableArguments {
    @Option(help: "The policy directory.") var policies = "policies"
    @Option(help: "Messages to time per class.") var messages = 5_000
    @Option(help: "Size of the long messages in bytes.") var size = 4096

    /// One class of the mix: its name and messages.
    struct MessageClass {
        var name: String
        var texts: [String]
    }

    /// The mix: clean and tagged, long and short.
    func mix() -> [MessageClass] {
        [
            MessageClass(name: "4 KiB mixed", texts: (0..<64).map { BenchText.message(seed: UInt64($0), size: size) }),
            MessageClass(
                name: "4 KiB clean",
                texts: (0..<64).map { BenchText.message(seed: UInt64($0), size: size, fragments: BenchText.clean) }),
            MessageClass(name: "short clean", texts: BenchText.clean),
            MessageClass(name: "short tagged", texts: BenchText.tagged),
        ]
    }

    /// The baseline: one pass over the message's bytes.
    @inline(never)
    static func plainScan(_ text: String) -> Int {
        var sum = 0
        for byte in text.utf8 { sum &+= Int(byte) }
        return sum
    }

    func run() throws {
        let policy = try loadPolicy(policies, providers: ProviderDescriptor.baseline)
        print("policy bench: \(messages) messages per class, one core; baseline = a plain scan of the same bytes")
        var sink = 0
        for messageClass in mix() {
            var detector: [Double] = []
            var detectorCPU: [Double] = []
            var baseline: [Double] = []
            var tagged = 0
            let clock = ContinuousClock()
            for i in 0..<messages {
                let text = messageClass.texts[i % messageClass.texts.count]
                // Alternate the two measurements message by message, so both see the same machine.
                let scanStart = clock.now
                sink &+= Self.plainScan(text)
                baseline.append(Self.microseconds(clock.now - scanStart))
                let start = clock.now
                let cpuStart = threadCPUMicroseconds()
                let detection = try? policy.detect(text)
                let decision = evaluate(
                    policy,
                    DecisionRequest(
                        tags: detection?.tags ?? [], user: "bench", groups: [], requestedProvider: "external-gpt",
                        providers: ProviderDescriptor.baseline, detectorCounts: detection?.countsByDetector ?? [:],
                        detectionFailed: detection == nil))
                if !decision.allows("external-gpt") { tagged += 1 }
                detector.append(Self.microseconds(clock.now - start))
                detectorCPU.append(threadCPUMicroseconds() - cpuStart)
            }
            detector.sort()
            detectorCPU.sort()
            baseline.sort()
            func p(_ q: Double, _ v: [Double]) -> Double { v[min(v.count - 1, Int(Double(v.count) * q))] }
            let bytes = messageClass.texts.reduce(0) { $0 + $1.utf8.count } / messageClass.texts.count
            let name = messageClass.name.padding(toLength: 13, withPad: " ", startingAt: 0)
            print(
                name
                    + String(
                        format: " (~%d B, %d%% kept in): detect+decide µs p50 %.1f p99 %.1f (cpu p99 %.1f) | "
                            + "plain scan µs p50 %.2f p99 %.2f | ratio p50 %.0fx p99 %.0fx",
                        bytes, tagged * 100 / messages, p(0.5, detector), p(0.99, detector),
                        p(0.99, detectorCPU), p(0.5, baseline), p(0.99, baseline),
                        p(0.5, detector) / max(p(0.5, baseline), 0.01), p(0.99, detector) / max(p(0.99, baseline), 0.01)
                    ))
        }
        if sink == 42 { print("") }  // keeps the scan from being optimised away
    }

    static func microseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12
    }
}

/// Deterministic mixed text for the benchmark: prose, numbers, dates, amounts and some identifiers.
enum BenchText {
    static let fragments = [
        "The patient was seen in clinic today and reported improvement after the change of medication. ",
        "Invoice INV-2024-00981 for 1,250.00 EUR is due on 2024-07-31; please confirm the purchase order. ",
        "Call the ward on 020 7946 0958 if the results are delayed beyond 48 hours. ",
        "Quarterly revenue grew 4.2% to $12,345,678 while operating costs fell by 1.1%. ",
        "Order ORD-2024-118834 shipped in 3 boxes, tracking 1Z999AA10123456784. ",
        "Please review the attached discharge plan and the follow-up schedule. ",
        "Meeting moved to 14:30 in room 4.12; bring the 2023 audit findings. ",
        "Card 4111 1111 1111 1111 was declined; the customer will retry tomorrow. ",
        "NHS number 943 476 5919 must be checked against the referral letter. ",
        "Send the summary to j.smith@example.org and copy the team lead. ",
        "The loan of 250000 at 3.5% over 25 years gives a monthly payment of 1251.56. ",
    ]

    /// Short everyday messages with nothing to find.
    static let clean = [
        "Can you summarise the meeting notes from Tuesday?", "Order ORD-2024-118834 shipped in 3 boxes.",
        "Meeting moved to 14:30 in room 4.12.", "Revenue grew 4.2% to $12,345,678 this quarter.",
        "Upgrade to v2.14.3 before 2024-07-31, please.", "Invoice INV-2024-00981 for 1,250.00 EUR is due.",
    ]

    /// Short messages with identifiers written the ways people write them.
    static let tagged = [
        "Card 4111 1111 1111 1111 06/31", "alice,5555555555554444,10/27,GBP 12.40",
        "card \u{FF14}\u{FF11}\u{FF11}\u{FF11} \u{FF11}\u{FF11}\u{FF11}\u{FF11} \u{FF11}\u{FF11}\u{FF11}\u{FF11} \u{FF11}\u{FF11}\u{FF11}\u{FF11}",
        "NHS number 943\u{00A0}476\u{00A0}5919 seen 01/02/2024", "iban gb82-west-1234-5698-7654-32",
        "DOB 14th March 1980, please update", "SSN 123-45-6789 tel 020 7946 0958",
    ]

    static func message(seed: UInt64, size: Int, fragments: [String] = fragments) -> String {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
        var text = ""
        while text.utf8.count < size {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            text += fragments[Int(state % UInt64(fragments.count))]
        }
        return String(decoding: Array(text.utf8.prefix(size)), as: UTF8.self)
    }
}
