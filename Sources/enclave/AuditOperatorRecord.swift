// Operator commands that change accounts or keys outside the server (`enclave users add|passwd|disable`,
// `enclave keys init|rotate`) write their own audit record, into the same log the server writes
// (processes take turns under the log's lock, see `AuditLog.appendOnce`), before they act: if the record
// cannot be written the command fails and changes nothing. The actor is the operating-system account
// that ran the command (`os:<name>`), with role `operator`; the origin is `-` (a local command).
import Audit
import Foundation
import Storage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

enum OperatorAudit {
    /// Records `action` on `subject` in the audit log the settings name, opening its audit keys with the
    /// configured master keys.
    static func record(_ action: String, subject: String, detail: String? = nil, settings: Settings) throws {
        let ring: KeyRing
        do {
            ring = try KeyRing.load(settings.keySource.value)
        } catch {
            throw CLIError("audit-key: cannot load the master key to write the audit record: \(error)")
        }
        try record(action, subject: subject, detail: detail, ring: ring, auditDirectory: settings.auditDirectory.value)
    }

    /// Records `action` with the audit keys opened by `ring`.
    static func record(
        _ action: String, subject: String, detail: String? = nil, ring: KeyRing, auditDirectory directory: String
    ) throws {
        let secrets = try AuditMasterKey.secrets(ring: ring, directory: directory)
        do {
            _ = try AuditLog.appendOnce(
                [AuditEvent(actor: actor, role: "operator", action: action, subject: subject, detail: detail)],
                directory: directory, macKey: secrets.mac, signer: secrets.signer)
        } catch let error as AuditError {
            throw CLIError("\(error.description); nothing was changed")
        }
    }

    /// Records `enclave keys init` in the audit log `directory` (the data directory's log, beside the new
    /// key file, unless configured elsewhere). A log whose root key the new key cannot open belongs to
    /// another master key (the new key cannot open that directory's data either); the record is then not
    /// written there, and the command says so.
    static func recordKeyInit(ring: KeyRing, keyFile: String, auditDirectory directory: String) throws {
        // An existing key file is never overwritten: the command fails and nothing is created to record.
        guard !FileManager.default.fileExists(atPath: keyFile) else { return }
        if try AuditRootKey.sealedVersion(directory: directory) != nil {
            do {
                _ = try AuditRootKey.load(directory: directory, masterKeys: try AuditMasterKey.masterKeys(ring))
            } catch {
                print("note: \(directory) belongs to another master key; this key's creation is not recorded there")
                return
            }
        }
        try record(
            AuditAction.keyInit, subject: "master-key-version=\(ring.latestVersion)", ring: ring,
            auditDirectory: directory)
    }

    /// `os:<login name>` of the effective user.
    static var actor: String {
        guard let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name else { return "os:uid\(geteuid())" }
        return "os:" + String(cString: name)
    }
}
