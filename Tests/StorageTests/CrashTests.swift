import EnclaveCrypto
// Done-when 5: a child process appends in a loop and prints each seq after its commit returns; it is
// SIGKILLed at seeded random moments, 50 rounds (half of them timed from its first output). After each
// kill the database reopens, every printed message is present and opens, and integrity_check is "ok".
import EnclaveTestSupport
import Foundation
import Storage
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Crash")
struct CrashTests {
    @Test("50 SIGKILLs mid-append lose no acknowledged message")
    func killDuringAppends() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = dir.file("crash.sqlite"), key = dir.file("crash.key")
        try makeKeyRing().createKeyFile(at: key)
        let ring = try KeyRing.load(.file(key))
        let executable = try enclaveExecutable()
        var random = SplitMix64(seed: 0xC4A5)
        var acknowledgedTotal = 0
        for round in 0..<50 {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["bench", "store-probe", "--database", db, "--key-file", key]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            var received = Data()
            if round % 2 == 1 {
                // Odd rounds wait for the first output (the store is open and appending) so that,
                // however slow the machine, these kills land among the appends.
                received = output.fileHandleForReading.availableData
                usleep(UInt32.random(in: 0...100_000, using: &random))
            } else {
                // Even rounds: any moment, from before the store opens to well into the appends.
                usleep(UInt32.random(in: 20_000...500_000, using: &random))
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            received += output.fileHandleForReading.readDataToEndOfFile()
            let text = String(decoding: received, as: UTF8.self)
            var acknowledged: [String: Set<Int>] = [:]
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.count == 2, fields[0] != "conversation", let seq = Int(fields[1]) {
                    acknowledged[String(fields[0]), default: []].insert(seq)
                }
            }
            let store = try Store(path: db, keyRing: ring)
            #expect(try await store.integrityCheck() == "ok", "round \(round)")
            for (raw, seqs) in acknowledged {
                let id = try #require(ConversationID(rawValue: raw))
                let history = try await store.history(id)
                let present = Set(history.map(\.seq))
                #expect(seqs.isSubset(of: present), "round \(round): lost \(seqs.subtracting(present).sorted())")
                #expect(history.allSatisfy { $0.body == "probe \(raw)" })
                acknowledgedTotal += seqs.count
            }
        }
        #expect(acknowledgedTotal > 0)
    }
}
