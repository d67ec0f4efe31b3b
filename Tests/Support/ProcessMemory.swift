// The resident memory of the test process, for the tests that bound what idle or abusive connections
// cost. (`enclave bench server` reads the same figure for its own report.)
import Foundation

/// Memory figures of this process.
public enum ProcessMemory {
    /// The resident set size, from /proc/self/statm (0 where that file does not exist).
    public static func residentBytes() -> Int {
        let fields = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8))?.split(separator: " ") ?? []
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }
}
