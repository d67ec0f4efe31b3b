// Fail closed: once the audit storage cannot be written, the next chat message fails with `internal`
// and the provider (the real OpenAI-compatible provider behind the real ProviderGateway, talking to a
// recording server on loopback) receives nothing. Two real ways to break the storage mid-run: the log file replaced by a directory (the
// writer checks the file's identity before each write; works everywhere), and the log made immutable
// with `chattr +i`, so the kernel refuses the write on the already-open descriptor (EPERM; needs a file
// system and privileges that allow it, so that case runs only where `chattr` works).
import Audit
import ChatCore
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `chattr` with `arguments`; true when it exited 0.
private func chattr(_ arguments: [String]) -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
}

/// Whether `chattr +i` works on a file in the temporary directory here (root on ext4/xfs/tmpfs...).
private let immutableFilesWork: Bool = {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chattr"), getuid() == 0 else { return false }
    let probe = NSTemporaryDirectory() + "enclave-chattr-probe-\(UUID().uuidString)"
    guard FileManager.default.createFile(atPath: probe, contents: Data()) else { return false }
    defer {
        _ = chattr(["-i", probe])
        try? FileManager.default.removeItem(atPath: probe)
    }
    return chattr(["+i", probe])
}()

@Suite struct AuditFailClosedTests {
    /// Sends one message (audited, provider called), breaks the storage, and checks the next message fails
    /// with `internal` and never reaches the provider.
    /// `cause` is the text the log's own error must carry, which shows the storage broke as intended.
    private func checkFailsClosed(
        cause: String, after breakStorage: (AuditFixture) throws -> Void, repair: (AuditFixture) -> Void = { _ in }
    ) async throws {
        let fixture = try await AuditFixture()
        defer {
            repair(fixture)
            fixture.remove()
        }
        let alice = try await fixture.login("alice")
        let first = try await fixture.send("first message", as: alice)
        #expect(fixture.providerRequests == 1)
        try breakStorage(fixture)
        do {
            _ = try await fixture.send("second message", conversation: first.conversation, as: alice)
            Issue.record("a message was answered without its audit record")
        } catch {
            #expect(error == ChatFailure.internal())
        }
        #expect(fixture.providerRequests == 1)
        // And it stays closed: a third message fails the same way.
        await #expect(throws: ChatFailure.internal()) {
            _ = try await fixture.send("third message", conversation: first.conversation, as: alice)
        }
        #expect(fixture.providerRequests == 1)
        do {
            _ = try await fixture.log.append(AuditEvent(actor: "-", role: "-", action: "test.probe"))
            Issue.record("the broken log accepted a record")
        } catch {
            #expect("\(error)".contains(cause), "\(error)")
        }
    }

    @Test func aLogReplacedByADirectoryStopsTheNextMessage() async throws {
        try await checkFailsClosed(cause: "audit file was replaced", after: { try $0.replaceLogWithDirectory() })
    }

    @Test(.enabled(if: immutableFilesWork)) func anImmutableLogStopsTheNextMessage() async throws {
        let log = { (fixture: AuditFixture) in fixture.auditDirectory + "/" + AuditLog.logFileName }
        try await checkFailsClosed(
            cause: "Operation not permitted",
            after: { fixture in
                guard chattr(["+i", log(fixture)]) else { throw CocoaError(.fileWriteNoPermission) }
            },
            repair: { fixture in _ = chattr(["-i", log(fixture)]) })
    }
}
