// Case-insensitive keyword and phrase search on word boundaries, in one pass over the message.
// A matcher holds one compiled list; `KeywordPass` runs several lists in one pass through one trie.
// A space inside a phrase matches any run of white space. No regular expressions involved.

/// A compiled list of keywords or phrases.
struct KeywordMatcher: Sendable {
    /// All keywords' bytes back to back; keyword k is `bytes[starts[k]..<starts[k + 1]]`.
    private var bytes: [UInt8] = []
    private var starts: [Int] = [0]
    /// The label of each keyword, reported with its matches.
    private(set) var labels: [Int] = []

    /// - Parameter phrases: keywords in any case; empty ones are ignored.
    init(_ phrases: [String]) {
        self.init(labelled: phrases.map { ($0, 0) })
    }

    /// Keywords each carrying a label, reported with every match (to tell context classes apart).
    init(labelled phrases: [(String, Int)]) {
        for (phrase, label) in phrases {
            var keyword: [UInt8] = []
            for b in phrase.utf8 {
                let folded = Bytes.isSpace(b) ? UInt8(ascii: " ") : Bytes.lower(b)
                if folded == UInt8(ascii: " "), keyword.last == UInt8(ascii: " ") || keyword.isEmpty { continue }
                keyword.append(folded)
            }
            while keyword.last == UInt8(ascii: " ") { keyword.removeLast() }
            guard !keyword.isEmpty else { continue }
            bytes += keyword
            starts.append(bytes.count)
            labels.append(label)
        }
    }

    var isEmpty: Bool { labels.isEmpty }

    /// Every occurrence, as byte ranges, in order of position; at one position the longest wins.
    /// - Parameter lowered: the message with ASCII letters folded to lower case.
    func matches(in lowered: [UInt8]) -> [Range<Int>] {
        labelledMatches(in: lowered).map(\.range)
    }

    /// Like `matches(in:)`, with the label of the keyword that matched.
    func labelledMatches(in lowered: [UInt8]) -> [(range: Range<Int>, label: Int)] {
        KeywordPass([self]).matches(in: lowered)[0]
    }

    /// Every keyword, lower-cased, white space collapsed to one space (for `KeywordPass`'s tables).
    var keywords: [ArraySlice<UInt8>] {
        labels.indices.map { bytes[starts[$0]..<starts[$0 + 1]] }
    }
}

/// Positions where context words end, so a detector can ask "was there an `NHS` label just before?".
struct ContextIndex {
    private var ends: [Int]

    init(ends: [Int]) {
        self.ends = ends
    }

    /// True when a context word ends within `window` bytes before `position`.
    func precedes(_ position: Int, window: Int) -> Bool {
        // Binary search for the last end <= position.
        var low = 0
        var high = ends.count
        while low < high {
            let mid = (low + high) / 2
            if ends[mid] <= position { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return false }
        return position - ends[low - 1] <= window
    }

    /// True when a position in the index lies in `position...position + window`.
    func follows(_ position: Int, window: Int) -> Bool {
        var low = 0
        var high = ends.count
        while low < high {
            let mid = (low + high) / 2
            if ends[mid] < position { low = mid + 1 } else { high = mid }
        }
        return low < ends.count && ends[low] - position <= window
    }

    /// Context word ends in order (for detectors that look forward from a label).
    var positions: [Int] { ends }
}
