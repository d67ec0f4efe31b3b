// Lock-out without account enumeration: a name that has no account locks out after the same number of
// failures and gets the same words as a real account; the words say how long the lock lasts; and each
// failure after the first few is answered more slowly.
import ChatCore
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
        let fixture = Fixture { $0.failureDelayStep = .zero }
        let real = await failures(fixture, "alice", 11)
        let unknown = await failures(fixture, "mallory", 11)
        #expect(real.count == 11 && unknown.count == 11)
        // Same codes and the same words, attempt by attempt: nothing tells the two names apart.
        #expect(real.map(\.code) == Array(repeating: .authFailed, count: 10) + [.lockedOut])
        #expect(real == unknown)
        #expect(real.last?.text.contains("try again in 30 minutes") == true, "\(String(describing: real.last))")
        let lockouts = await fixture.audit.entries.filter { $0.action == "auth.lockout" }.map(\.subject)
        #expect(lockouts == ["alice", "mallory"])
    }

    @Test func theLockSaysHowLongItLasts() async throws {
        let fixture = Fixture {
            $0.failureDelayStep = .zero
            $0.lockoutThreshold = 2
            $0.lockoutDuration = 90
        }
        let answers = await failures(fixture, "alice", 3)
        #expect(answers.last?.code == .lockedOut)
        #expect(answers.last?.text.hasSuffix("try again in 2 minutes") == true, "\(answers)")
    }

    @Test func failuresInARowAreAnsweredMoreSlowly() async throws {
        let fixture = Fixture {
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
