// The audit side of `enclave keys rotate`: re-wraps the audit root key under the ring's newest master
// version while the old version is still in the ring, so that retiring the old version never orphans
// the audit log. Called by the rotate command just before it drops old versions from the key file; a
// failure stops the rotation there (the old versions stay, and running rotate again resumes).
import Audit
import Foundation
import Storage

enum AuditKeyRotation {
    /// Re-wraps `<audit dir>/root.key` under `ring.latestVersion` (nothing to do without a root key).
    static func rewrap(ring: KeyRing, auditDirectory directory: String) throws {
        do {
            let changed = try AuditRootKey.rewrap(
                directory: directory, masterKeys: try AuditMasterKey.masterKeys(ring), to: ring.latestVersion)
            if changed { print("re-wrapped the audit root key under master key version \(ring.latestVersion)") }
        } catch let error as AuditError {
            throw CLIError(error.description)
        }
    }
}
