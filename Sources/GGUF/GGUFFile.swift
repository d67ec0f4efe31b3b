// GGUFFile: reads a GGUF (v2, v3) file — the container llama.cpp, Ollama and LM Studio ship models in.
//
// Layout (little-endian throughout; strings are a UInt64 byte count followed by UTF-8, no terminator):
//
//   | "GGUF" | version u32 | tensor_count u64 | kv_count u64 |
//   | kv_count × (key string, value type u32, value) |          arrays: elem type u32, count u64, elems
//   | tensor_count × (name string, n_dims u32, n_dims × u64 dims, type u32, offset u64) |
//   | padding to general.alignment (default 32) | tensor data ... |
//
// The file is memory-mapped read-only and never copied: tensors are views into the mapping. Every count,
// offset and size is checked against the bytes that remain before it is used, so a truncated or hostile
// file yields a GGUFError naming what and where instead of a crash or a huge allocation.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One tensor's description from the header; its data lives in the file's mapping.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name, e.g. "blk.0.attn_q.weight".
    public let name: String
    /// Dimensions in ggml order: `dimensions[0]` is the row length (contiguous), then rows, ...
    public let dimensions: [Int]
    /// The element type.
    public let type: GGMLType
    /// Offset of the data from the start of the data section.
    public let offset: Int
    /// Size of the data in bytes.
    public let byteCount: Int

    /// Total number of elements.
    public var elementCount: Int { dimensions.reduce(1, *) }
    /// Elements per row (`dimensions[0]`).
    public var rowLength: Int { dimensions[0] }
    /// Number of rows (product of the other dimensions).
    public var rowCount: Int { dimensions.dropFirst().reduce(1, *) }
}

/// The bytes of a GGUF file: a read-only mapping (or an owned copy for in-memory input).
/// `@unchecked Sendable`: the storage is immutable after init (PROT_READ mapping or a buffer never written
/// again), so concurrent reads need no lock.
final class GGUFStorage: @unchecked Sendable {
    let base: UnsafeRawPointer
    let count: Int
    private let mapped: Bool

    init(path: String) throws(GGUFError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .cannotOpen(path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .cannotOpen(path: path, errno: errno) }
        let size = Int(info.st_size)
        guard size > 0 else { throw .truncated(what: "header", offset: 0, needed: 24) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw .cannotOpen(path: path, errno: errno)
        }
        base = UnsafeRawPointer(p)
        count = size
        mapped = true
    }

    init(bytes: [UInt8]) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { if let src = $0.baseAddress { p.copyMemory(from: src, byteCount: bytes.count) } }
        base = UnsafeRawPointer(p)
        count = bytes.count
        mapped = false
    }

    deinit {
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: base), count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }
}

/// A parsed GGUF file: version, metadata, tensor infos and the mapped tensor data.
public struct GGUFFile: Sendable {
    /// The format version (2 or 3).
    public let version: UInt32
    /// All key/value metadata.
    public let metadata: GGUFMetadata
    /// Tensor descriptions in file order.
    public let tensors: [GGUFTensorInfo]
    /// The data alignment (`general.alignment`, default 32).
    public let alignment: Int
    /// Byte offset of the data section in the file.
    public let dataOffset: Int
    /// Total file size in bytes.
    public var fileSize: Int { storage.count }

    let storage: GGUFStorage
    private let tensorIndex: [String: Int]

    /// Maps and parses the file at `path`.
    public init(path: String) throws(GGUFError) {
        try self.init(storage: GGUFStorage(path: path))
    }

    /// Parses an in-memory copy of a GGUF file (for tests and fuzzing).
    public init(bytes: [UInt8]) throws(GGUFError) {
        try self.init(storage: GGUFStorage(bytes: bytes))
    }

    private init(storage: GGUFStorage) throws(GGUFError) {
        self.storage = storage
        var reader = GGUFReader(base: storage.base, count: storage.count)
        let magic = try reader.u32("magic")
        guard magic == 0x4655_4747 else { throw .badMagic(found: magic) }
        version = try reader.u32("version")
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        let tensorCount = try reader.u64("tensor count")
        let kvCount = try reader.u64("metadata count")
        // Each key/value needs at least 12 bytes, each tensor info at least 24.
        try reader.checkPlausible("metadata count", kvCount, minimumBytesEach: 12)
        var keys: [String] = []
        var values: [String: GGUFValue] = [:]
        for _ in 0..<kvCount {
            let keyOffset = reader.offset
            let key = try reader.string("metadata key")
            let type = try reader.u32("value type of '\(key)'")
            let value = try reader.value(type: type, key: key, depth: 0)
            guard values.updateValue(value, forKey: key) == nil else { throw .duplicate(name: key, offset: keyOffset) }
            keys.append(key)
        }
        metadata = GGUFMetadata(keys: keys, values: values)
        let alignmentValue = values["general.alignment"]
        let align = alignmentValue?.intValue ?? 32
        guard align > 0, align & (align - 1) == 0, align <= 1 << 20 else {
            throw .badAlignment(UInt64(truncatingIfNeeded: alignmentValue?.intValue ?? -1))
        }
        alignment = align

        try reader.checkPlausible("tensor count", tensorCount, minimumBytesEach: 24)
        var infos: [GGUFTensorInfo] = []
        var index: [String: Int] = [:]
        for _ in 0..<tensorCount {
            let infoOffset = reader.offset
            let info = try reader.tensorInfo(alignment: align)
            guard index.updateValue(infos.count, forKey: info.name) == nil else {
                throw .duplicate(name: info.name, offset: infoOffset)
            }
            infos.append(info)
        }
        let start = (reader.offset + align - 1) / align * align
        dataOffset = start
        let available = storage.count - min(start, storage.count)
        for info in infos where info.offset > available || info.byteCount > available - info.offset {
            throw .tensorOutOfBounds(tensor: info.name, offset: UInt64(info.offset), size: UInt64(info.byteCount))
        }
        tensors = infos
        tensorIndex = index
    }

    /// The tensor named `name`, or nil.
    public func tensor(named name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// The bytes of `tensor`. The pointer is valid while this `GGUFFile` (or a copy of it) is alive.
    public func data(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage.base + dataOffset + tensor.offset, count: tensor.byteCount)
    }

    /// Calls `body` with the bytes of `tensor`, keeping the mapping alive for the call.
    public func withData<R>(of tensor: GGUFTensorInfo, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) { try body(data(of: tensor)) }
    }
}
