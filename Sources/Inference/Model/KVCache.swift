// KVCache: one session's keys and values, per layer, in f32. It grows in steps as the conversation
// grows (up to `capacity` positions), so a short chat does not reserve the whole context up front.

/// The attention memory of one session. Not thread-safe: used by the model's owner thread only.
public final class KVCache {
    /// Maximum positions this cache may hold (the session's context length).
    public let capacity: Int
    /// Positions filled so far (the next token's position).
    public internal(set) var count = 0
    let layers: Int
    let kvDim: Int
    private(set) var allocated = 0
    private(set) var keys: [UnsafeMutablePointer<Float>] = []  // per layer: (allocated × kvDim)
    private(set) var values: [UnsafeMutablePointer<Float>] = []  // per layer: (allocated × kvDim)

    static let growthStep = 256

    init(config: ModelConfig, capacity: Int) {
        self.capacity = capacity
        layers = config.layerCount
        kvDim = config.kvDim
    }

    deinit {
        for p in keys + values { p.deallocate() }
    }

    /// Bytes held now.
    public var byteCount: Int { Self.bytes(layers: layers, kvDim: kvDim, positions: allocated) }

    /// Bytes a cache of `positions` positions holds: keys and values of every layer, in f32.
    static func bytes(layers: Int, kvDim: Int, positions: Int) -> Int {
        2 * layers * positions * kvDim * MemoryLayout<Float>.size
    }

    static func bytes(config c: ModelConfig, positions: Int) -> Int {
        bytes(layers: c.layerCount, kvDim: c.kvDim, positions: positions)
    }

    /// Positions where an evaluated batch began, ascending. The model's arithmetic depends on how tokens
    /// were batched, so a prefix is reused only up to one of these.
    public private(set) var batchStarts: [Int] = []

    /// Forgets positions from `position` on (keeps the prefix, e.g. a shared system prompt).
    public func truncate(to position: Int) {
        count = min(count, max(0, position))
        batchStarts.removeAll { $0 >= count }
    }

    /// The last position ≤ `limit` where a batch began (0 when none did).
    public func batchStart(atMost limit: Int) -> Int { batchStarts.last { $0 <= limit } ?? 0 }

    /// Records that a batch begins at the next position.
    func beginBatch() { batchStarts.append(count) }

    /// Makes room for `positions` positions in total.
    func reserve(_ positions: Int) {
        guard positions > allocated else { return }
        reallocate(min(capacity, (positions + Self.growthStep - 1) / Self.growthStep * Self.growthStep))
    }

    /// Makes this (empty) cache hold the first `positions` positions of `other`: the same keys, values
    /// and batch starts, as if it had evaluated them itself.
    public func copyPrefix(_ positions: Int, from other: KVCache) {
        precondition(count == 0 && layers == other.layers && kvDim == other.kvDim && positions <= other.count)
        reserve(positions)
        for l in 0..<layers {
            keys[l].update(from: other.keys[l], count: positions * kvDim)
            values[l].update(from: other.values[l], count: positions * kvDim)
        }
        count = positions
        batchStarts = other.batchStarts.filter { $0 < positions }
    }

    /// Gives back the memory past the filled positions (rounded up to `keptStep`): a cache waiting in
    /// the engine's pool for its conversation's next turn holds only what it will reuse.
    public func shrinkToFit() {
        let target = min(capacity, max(Self.keptStep, (count + Self.keptStep - 1) / Self.keptStep * Self.keptStep))
        guard target < allocated else { return }
        reallocate(target)
    }

    static let keptStep = 16

    /// Moves the filled positions into buffers of `target` positions per layer.
    private func reallocate(_ target: Int) {
        var newKeys: [UnsafeMutablePointer<Float>] = []
        var newValues: [UnsafeMutablePointer<Float>] = []
        for l in 0..<layers {
            let k = UnsafeMutablePointer<Float>.allocate(capacity: target * kvDim)
            let v = UnsafeMutablePointer<Float>.allocate(capacity: target * kvDim)
            if allocated > 0 {
                k.update(from: keys[l], count: count * kvDim)
                v.update(from: values[l], count: count * kvDim)
                keys[l].deallocate()
                values[l].deallocate()
            }
            newKeys.append(k)
            newValues.append(v)
        }
        keys = newKeys
        values = newValues
        allocated = target
    }
}
