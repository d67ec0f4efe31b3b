// The first admin's printed password is one-time: it opens one session, in which the admin chooses their
// own. Test harnesses that log in as the admin more than once claim the account first, as an operator
// does on day one.
import EnclaveClient
import Foundation

enum FirstAdmin {
    /// Logs in with the `printed` one-time password on `port`, chooses a new password with `/passwd` and
    /// returns it.
    static func claim(port: Int, printed: String) throws -> String {
        let chosen = "chosen-" + UUID().uuidString.prefix(13)
        let client = try ChatLoadClient(port: port, timeout: .seconds(120))
        guard client.readBanner() else { throw LineClientError(description: "no banner") }
        let login = client.exchange("/login admin \(printed)")
        guard login.final?.hasPrefix("OK user=admin") == true else {
            throw LineClientError(description: "the printed password did not log in: \(login.lines)")
        }
        let change = client.exchange("/passwd \(printed) \(chosen)")
        guard change.final == "OK password changed" else {
            throw LineClientError(description: "/passwd: \(change.lines)")
        }
        client.send("/quit")
        return chosen
    }
}
