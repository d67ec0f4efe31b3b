// The rule for a data directory that holds a database, a master key and an audit log: owned by the user
// the server runs as, and closed to everyone else (no group or other bits). `serve` refuses to start on
// a directory that breaks it and `doctor` reports it, with the same words.
import Foundation

enum DataDirectoryCheck {
    /// What is wrong with the existing directory `path`, with the fix; nil when it is fine.
    static func problem(_ path: String) -> String? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let mode = (attributes[.posixPermissions] as? NSNumber)?.uint16Value,
            let owner = (attributes[.ownerAccountID] as? NSNumber)?.uint32Value
        else { return "\(path) cannot be inspected; check that this user may read it" }
        if owner != getuid() {
            return "\(path) is owned by uid \(owner), not by this user (uid \(getuid())); chown it"
        }
        if mode & 0o077 != 0 {
            return "\(path) has mode 0\(String(mode & 0o777, radix: 8)); others can read it: chmod 700 \(path)"
        }
        return nil
    }
}
