import Audit
// Lock-out without account enumeration: a name that has no account locks out after the same number of
// failures and gets the same words as a real account; the words say how long the lock lasts; and each
// failure after the first few is answered more slowly.
import ChatCore
import ChatCoreTestSupport
import Foundation
import Testing

@Suite struct LoginThrottleTests {
    /// The failure every attempt of `name` gets, in order.
    func failures(_ fixture: Fixture, _ name: String, _ count: Int) async -> [ChatFailure] {
        var result: [ChatFailure] = []
        for attempt in 0..<count {
            do {
                _ = try await fixture.core.login(name: name, password: "guess-\(attempt)", origin: "test")
            } catch {
                result.append(error)
            }
        }
        return result
    }

    @Test func anUnknownNameLocksOutExactlyLikeARealOne() async throws {
        let fixture = try await Fixture { $0.failureDelayStep = .zero }
        let real = await failures(fixture, "alice", 11)
        let unknown = await failures(fixture, "mallory", 11)
        #expect(real.count == 11 && unknown.count == 11)
        // Same codes and the same words, attempt by attempt: nothing tells the two names apart.
        #expect(real.map(\.code) == Array(repeating: .authFailed, count: 10) + [.lockedOut])
        // The minutes left are counted from each lock's own start, so a starved run can see one name's
        // last answer a minute or two after its lock began; the words are compared with the number masked.
        func masked(_ failures: [ChatFailure]) -> [ChatFailure] {
            failures.map {
                var failure = $0
                failure.text = $0.text.replacing(/[0-9]+/, with: "N")
                return failure
            }
        }
        #expect(masked(real) == masked(unknown))
        // The configured 30-minute lock, less whatever minutes the run took to ask again.
        let minutes = real.last.flatMap { $0.text.firstMatch(of: /try again in ([0-9]+) minutes/) }.flatMap {
            Int($0.1)
        }
        #expect(minutes.map { (20...30).contains($0) } == true, "\(String(describing: real.last))")
        // A name without an account is free text someone typed: the log keeps it key-hashed.
        let lockouts = try fixture.backends.events().filter { $0.action == "auth.lockout" }.map(\.subject)
        #expect(lockouts == ["alice", try fixture.audit.pseudonym("mallory")])
    }

    @Test func theLockSaysHowLongItLasts() async throws {
        let fixture = try await Fixture {
            $0.failureDelayStep = .zero
            $0.lockoutThreshold = 2
            $0.lockoutDuration = 90
        }
        let answers = await failures(fixture, "alice", 3)
        #expect(answers.last?.code == .lockedOut)
        #expect(answers.last?.text.hasSuffix("try again in 2 minutes") == true, "\(answers)")
    }

    @Test func failuresInARowAreAnsweredMoreSlowly() async throws {
        let fixture = try await Fixture {
            $0.freeFailures = 1
            $0.failureDelayStep = .milliseconds(200)
            $0.lockoutThreshold = 100
        }
        let clock = ContinuousClock()
        var took: [Duration] = []
        for attempt in 0..<4 {
            let start = clock.now
            _ = try? await fixture.core.login(name: "alice", password: "wrong-\(attempt)", origin: "test")
            took.append(clock.now - start)
        }
        // Lower bounds only (a loaded machine is slower, never faster): 0, 200, 400, 600 ms of pause.
        #expect(took[1] >= .milliseconds(200) && took[2] >= .milliseconds(400) && took[3] >= .milliseconds(600))
        // The right password still logs in at once (the count was never enough to lock).
        _ = try await fixture.login()
    }
}
