// Case-insensitive keyword and phrase search on word boundaries, in one pass over the message.
// Keywords are bucketed by first byte; `KeywordPass` runs several lists in one pass. A space inside a
// phrase matches any run of white space. No regular expressions involved.

/// A compiled list of keywords or phrases.
struct KeywordMatcher: Sendable {
    /// All keywords' bytes back to back; keyword k is `bytes[starts[k]..<starts[k + 1]]`.
    private var bytes: [UInt8] = []
    private var starts: [Int] = [0]
    private var labels: [Int] = []
    /// Keyword indexes grouped by first byte: bucket b is `order[bucketStarts[b]..<bucketStarts[b + 1]]`.
    private var order: [Int] = []
    private var bucketStarts: [Int] = Array(repeating: 0, count: 257)

    /// - Parameter phrases: keywords in any case; empty ones are ignored.
    init(_ phrases: [String]) {
        self.init(labelled: phrases.map { ($0, 0) })
    }

    /// Keywords each carrying a label, reported with every match (to tell context classes apart).
    init(labelled phrases: [(String, Int)]) {
        var firsts: [UInt8] = []
        for (phrase, label) in phrases {
            var keyword: [UInt8] = []
            for b in phrase.utf8 {
                let folded = Bytes.isSpace(b) ? UInt8(ascii: " ") : Bytes.lower(b)
                if folded == UInt8(ascii: " "), keyword.last == UInt8(ascii: " ") || keyword.isEmpty { continue }
                keyword.append(folded)
            }
            while keyword.last == UInt8(ascii: " ") { keyword.removeLast() }
            guard let first = keyword.first else { continue }
            bytes += keyword
            starts.append(bytes.count)
            labels.append(label)
            firsts.append(first)
        }
        order = firsts.indices.sorted { (firsts[$0], $0) < (firsts[$1], $1) }
        for b in 0..<256 {
            bucketStarts[b + 1] = bucketStarts[b] + firsts.filter { Int($0) == b }.count
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

    /// The longest keyword matching at `i` (a word boundary), with its label; nil when none does.
    func longestMatch(_ text: UnsafeBufferPointer<UInt8>, at i: Int) -> (end: Int, label: Int)? {
        let b = Int(text[i])
        let low = bucketStarts[b]
        let high = bucketStarts[b + 1]
        guard low < high else { return nil }
        return bytes.withUnsafeBufferPointer { words in
            var best = -1
            var label = 0
            for slot in low..<high {
                let k = order[slot]
                let end = Self.matchEnd(words[starts[k]..<starts[k + 1]], text, at: i)
                if end > best {
                    best = end
                    label = labels[k]
                }
            }
            return best > i ? (best, label) : nil
        }
    }

    /// End of `keyword` matched at `start`, or -1.
    private static func matchEnd(
        _ keyword: Slice<UnsafeBufferPointer<UInt8>>, _ text: UnsafeBufferPointer<UInt8>, at start: Int
    ) -> Int {
        var j = start
        let n = text.count
        for k in keyword {
            if k == UInt8(ascii: " ") {
                guard j < n, Bytes.isSpace(text[j]) else { return -1 }
                while j < n, Bytes.isSpace(text[j]) { j += 1 }
            } else {
                guard j < n, text[j] == k else { return -1 }
                j += 1
            }
        }
        if let last = keyword.last, Bytes.isWord(last), j < n, Bytes.isWord(text[j]) { return -1 }
        return j
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
