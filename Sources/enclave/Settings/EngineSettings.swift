// The `engine:` section: how the in-process engine runs every local model.
//
//     engine:
//       threads: 8            # default: every physical core of the machine (no fixed cap)
//       context_length: 8192  # default: the model's trained context, bounded by the KV-cache budget
//       kv_cache_mb: 1024     # memory for conversations' KV caches, shared by all local models
//       sampling: {temperature: 0.7, top_k: 40, top_p: 0.95, min_p: 0.05, repetition_penalty: 1.0, seed: 0}
import EnclaveConfiguration
import Foundation
import Inference
import Routing
import Yams

struct EngineSettings {
    /// Threads for the matrix products; nil: every physical core.
    var threads: Int?
    /// Tokens per conversation; nil: the model's trained context within the memory budget.
    var contextLength: Int?
    /// Bytes of KV cache kept between turns, shared by every local model.
    var kvCacheBytes = InferenceEngine.defaultCachePoolBytes
    /// Sampling defaults of local replies.
    var sampling = SamplingParameters()

    /// The smallest context the default rule picks, whatever the budget says.
    static let minimumDefaultContext = 512

    static func parse(_ node: Node, reader: ConfigurationReader) throws(ConfigurationError) -> EngineSettings {
        let map = try reader.mapping(node, "engine", allowed: ["threads", "context_length", "kv_cache_mb", "sampling"])
        var settings = EngineSettings()
        settings.threads = try map["threads"].map { n throws(ConfigurationError) in
            try reader.int(n, "engine.threads", range: 1...1024)
        }
        settings.contextLength = try map["context_length"].map { n throws(ConfigurationError) in
            try reader.int(n, "engine.context_length", range: 16...10_000_000)
        }
        if let n = map["kv_cache_mb"] {
            settings.kvCacheBytes = try reader.int(n, "engine.kv_cache_mb", range: 0...1_048_576) << 20
        }
        if let n = map["sampling"] {
            let sampling = try reader.mapping(
                n, "engine.sampling",
                allowed: ["temperature", "top_k", "top_p", "min_p", "repetition_penalty", "repeat_last_n", "seed"])
            var s = SamplingParameters()
            if let v = sampling["temperature"] {
                s.temperature = Float(try reader.double(v, "temperature", range: 0...5))
            }
            if let v = sampling["top_k"] { s.topK = try reader.int(v, "top_k", range: 0...100_000) }
            if let v = sampling["top_p"] { s.topP = Float(try reader.double(v, "top_p", range: 0...1)) }
            if let v = sampling["min_p"] { s.minP = Float(try reader.double(v, "min_p", range: 0...1)) }
            if let v = sampling["repetition_penalty"] {
                s.repetitionPenalty = Float(try reader.double(v, "repetition_penalty", range: 0.5...5))
            }
            if let v = sampling["repeat_last_n"] {
                s.repeatLastN = try reader.int(v, "repeat_last_n", range: 0...100_000)
            }
            if let v = sampling["seed"] { s.seed = UInt64(try reader.int(v, "seed", range: 0...Int.max)) }
            settings.sampling = s
        }
        return settings
    }

    /// The thread count in force: the setting, else the machine's physical cores.
    var effectiveThreads: Int { threads ?? Self.physicalCores() }

    /// The context for a model: the setting (capped at the trained context), else the trained context
    /// bounded so that one full conversation's KV cache fits in this model's share of the budget.
    func context(trained: Int, kvBytesPerToken: Int, share: Int) -> Int {
        if let contextLength { return min(contextLength, trained) }
        guard kvBytesPerToken > 0 else { return trained }
        let fitting = share / kvBytesPerToken
        return min(trained, max(Self.minimumDefaultContext, fitting))
    }

    /// Physical cores (distinct core ids per package), falling back to the logical count.
    static func physicalCores() -> Int {
        let logical = max(1, ProcessInfo.processInfo.activeProcessorCount)
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return logical }
        var cores = Set<String>()
        var package = "0"
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[0] == "physical id" { package = parts[1] }
            if parts[0] == "core id" { cores.insert(package + "/" + parts[1]) }
        }
        return cores.isEmpty ? logical : min(logical, cores.count)
    }
}
