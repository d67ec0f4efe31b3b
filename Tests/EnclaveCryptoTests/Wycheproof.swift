// Loads the Wycheproof vector files (an independent oracle) from the shared test data folder.
//
// The folder is `../shared/testdata/wycheproof` beside the repository (how CI lays it out), with
// `/work/shared/testdata/wycheproof` as a fallback. Missing data is a failure, never a skip.
import Foundation
import Testing

enum Wycheproof {
    struct MissingData: Error, CustomStringConvertible {
        let tried: [String]
        var description: String { "Wycheproof vectors not found; tried: \(tried.joined(separator: ", "))" }
    }

    /// The directory holding the vector files.
    static func directory() throws -> URL {
        var root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while root.path != "/"
            && !FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path)
        {
            root.deleteLastPathComponent()
        }
        let candidates = [
            root.deletingLastPathComponent().appendingPathComponent("shared/testdata/wycheproof"),
            URL(fileURLWithPath: "/work/shared/testdata/wycheproof"),
        ]
        for candidate in candidates
        where FileManager.default.fileExists(atPath: candidate.appendingPathComponent("README.md").path) {
            return candidate
        }
        throw MissingData(tried: candidates.map(\.path))
    }

    /// Decodes one vector file.
    static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        let data = try Data(contentsOf: directory().appendingPathComponent(name))
        return try JSONDecoder().decode(T.self, from: data)
    }

    struct File<Group: Decodable>: Decodable {
        let numberOfTests: Int
        let testGroups: [Group]
    }

    struct AEADGroup: Decodable {
        let ivSize: Int
        let keySize: Int
        let tagSize: Int
        let tests: [AEADTest]
    }

    struct AEADTest: Decodable {
        let tcId: Int
        let key, iv, aad, msg, ct, tag, result: String
    }

    struct MACGroup: Decodable {
        let tagSize: Int
        let tests: [MACTest]
    }

    struct MACTest: Decodable {
        let tcId: Int
        let key, msg, tag, result: String
    }

    struct HKDFGroup: Decodable {
        let tests: [HKDFTest]
    }

    struct HKDFTest: Decodable {
        let tcId: Int
        let ikm, salt, info, okm, result: String
        let size: Int
    }

    struct EdDSAGroup: Decodable {
        struct PublicKey: Decodable { let pk: String }
        let publicKey: PublicKey
        let tests: [EdDSATest]
    }

    struct EdDSATest: Decodable {
        let tcId: Int
        let msg, sig, result: String
    }
}

extension Array where Element == UInt8 {
    /// Bytes from lower- or upper-case hex; traps on malformed test data.
    init(hex: String) {
        let digits = Array(hex.utf8)
        precondition(digits.count % 2 == 0, "odd hex length")
        func value(_ c: UInt8) -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: preconditionFailure("bad hex digit")
            }
        }
        self = stride(from: 0, to: digits.count, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
    }
}
