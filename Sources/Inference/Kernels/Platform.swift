// What the engine runs on: the CPU's SIMD features and the linked OpenBLAS, read at run time.
internal import CKernels
internal import COpenBLAS

/// Facts about the machine that decide which kernels the engine uses.
public enum Platform {
    /// SIMD features of the running CPU that the kernels can use.
    public struct SIMDFeatures: OptionSet, Sendable, CustomStringConvertible {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        public static let avx2 = SIMDFeatures(rawValue: UInt32(CK_CPU_AVX2))
        public static let fma = SIMDFeatures(rawValue: UInt32(CK_CPU_FMA))
        public static let f16c = SIMDFeatures(rawValue: UInt32(CK_CPU_F16C))
        public static let neon = SIMDFeatures(rawValue: UInt32(CK_CPU_NEON))
        public static let avx512f = SIMDFeatures(rawValue: UInt32(CK_CPU_AVX512F))

        public var description: String {
            let names: [(SIMDFeatures, String)] = [
                (.avx2, "AVX2"), (.fma, "FMA"), (.f16c, "F16C"), (.neon, "NEON"), (.avx512f, "AVX512F"),
            ]
            let present = names.filter { contains($0.0) }.map(\.1)
            return present.isEmpty ? "none" : present.joined(separator: " ")
        }
    }

    /// The SIMD features detected on this CPU.
    public static var simdFeatures: SIMDFeatures { SIMDFeatures(rawValue: ck_cpu_features()) }

    /// OpenBLAS's own build description, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell".
    public static var blasConfiguration: String { String(cString: openblas_get_config()) }

    /// The OpenBLAS version, parsed from its configuration string ("0.3.21"), or nil if absent.
    public static var blasVersion: String? {
        let words = blasConfiguration.split(separator: " ")
        guard let index = words.firstIndex(of: "OpenBLAS"), index + 1 < words.count else { return nil }
        return String(words[index + 1])
    }

    /// How many threads OpenBLAS uses for one call.
    public static var blasThreads: Int { Int(openblas_get_num_threads()) }
}
