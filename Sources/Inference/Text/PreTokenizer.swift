// Pre-tokenization: cutting text into words before BPE, as llama.cpp does for each `tokenizer.ggml.pre`.
// llama.cpp describes each pre-tokenizer as a list of regexes applied one after another, each one
// cutting the pieces the previous one left (text between matches stays a piece of its own). We
// implement each regex as a hand-written linear scanner over code points instead of a regex engine:
// no backtracking, so no input can make it slow, and the behaviour is spelled out in one place.

/// A named pre-tokenizer: the ordered split rules llama.cpp applies for that `tokenizer.ggml.pre`.
struct PreTokenizer: Sendable {
    /// One of llama.cpp's pre-tokenizer regexes.
    enum Rule: Sendable, Equatable {
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)` (GPT-2).
        case gpt2
        /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}|
        /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+` (Llama 3 with 3, Qwen 2 with 1).
        case llama3(maxDigits: Int)
        /// A run of `class` code points, at least `minimum` and at most `maximum` long, isolated from
        /// its neighbours: `\p{N}` is `(.number, 1, 1)`, `\p{N}+` is `(.number, 1, nil)`.
        case runs(Run)
    }

    /// Which code points a ``Rule/runs(_:)`` rule collects.
    enum Run: Sendable, Equatable {
        /// `\p{N}` (one number), or `\p{N}+` when `unbounded`.
        case numbers(unbounded: Bool)
        /// `[0-9][0-9][0-9]`.
        case asciiDigitTriples
        /// `[\p{P}\$\+<=>\^~\|]+`.
        case punctuation
    }

    let name: String
    let rules: [Rule]
    /// llama.cpp looks a whole word up in the vocabulary before merging for these (Llama 3).
    let ignoresMerges: Bool
    /// llama.cpp adds BOS by default for these when the file does not say.
    let addsBOSByDefault: Bool

    /// The names we accept for `tokenizer.ggml.pre`.
    static let supportedNames: [String] = [
        "default", "gpt2", "gpt-2", "smollm", "starcoder", "refact", "command-r", "codeshell",
        "llama3", "llama-v3", "llama-bpe", "qwen2", "deepseek-r1-qwen", "stablelm2",
    ]

    /// The pre-tokenizer llama.cpp uses for `name`, or nil when we do not implement it.
    init?(name: String) {
        self.name = name
        switch name {
        case "", "default":
            rules = [.runs(.punctuation), .gpt2, .runs(.numbers(unbounded: true)), .runs(.asciiDigitTriples)]
            (ignoresMerges, addsBOSByDefault) = (false, false)
        case "gpt2", "gpt-2":
            rules = [.gpt2]
            (ignoresMerges, addsBOSByDefault) = (false, false)
        case "smollm", "starcoder", "refact", "command-r", "codeshell":
            rules = [.runs(.numbers(unbounded: false)), .gpt2]
            (ignoresMerges, addsBOSByDefault) = (false, false)
        case "llama3", "llama-v3", "llama-bpe":
            rules = [.llama3(maxDigits: 3)]
            (ignoresMerges, addsBOSByDefault) = (true, true)
        case "qwen2", "deepseek-r1-qwen", "stablelm2":
            rules = [.llama3(maxDigits: 1)]
            (ignoresMerges, addsBOSByDefault) = (false, false)
        default:
            return nil
        }
    }

    /// Cuts `scalars` into words; returns the length in code points of each word, in order.
    func split(_ scalars: [Unicode.Scalar]) -> [Int] {
        guard !scalars.isEmpty else { return [] }
        var lengths = [scalars.count]
        var classes = [ScalarClass]()
        classes.reserveCapacity(scalars.count)
        for scalar in scalars { classes.append(.of(scalar)) }
        let text = ClassifiedText(scalars: scalars, classes: classes)
        for rule in rules {
            var next = [Int]()
            next.reserveCapacity(lengths.count * 2)
            var start = 0
            for length in lengths {
                let piece = text.piece(start, start + length)
                switch rule {
                case .gpt2: piece.splitGPT2(into: &next)
                case .llama3(let maxDigits): piece.splitLlama3(maxDigits: maxDigits, into: &next)
                case .runs(let run): piece.splitRuns(run, into: &next)
                }
                start += length
            }
            lengths = next
        }
        return lengths
    }
}
