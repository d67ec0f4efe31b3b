// Case-insensitive keyword and phrase search on word boundaries, in one pass over the message.
// Keywords are bucketed by first byte, so each word start costs a bucket lookup and usually nothing
// more; a space inside a phrase matches any run of white space. No regular expressions involved.

/// A compiled list of keywords or phrases.
struct KeywordMatcher: Sendable {
    private var keywords: [[UInt8]] = []
    private var labels: [Int] = []
    private var buckets: [[Int]] = Array(repeating: [], count: 256)

    /// - Parameter phrases: keywords in any case; empty ones are ignored.
    init(_ phrases: [String]) {
        self.init(labelled: phrases.map { ($0, 0) })
    }

    /// Keywords each carrying a label, reported with every match (to tell context classes apart).
    init(labelled phrases: [(String, Int)]) {
        for (phrase, label) in phrases {
            var bytes: [UInt8] = []
            for b in phrase.utf8 {
                let folded = Bytes.isSpace(b) ? UInt8(ascii: " ") : Bytes.lower(b)
                if folded == UInt8(ascii: " "), bytes.last == UInt8(ascii: " ") || bytes.isEmpty { continue }
                bytes.append(folded)
            }
            while bytes.last == UInt8(ascii: " ") { bytes.removeLast() }
            guard let first = bytes.first else { continue }
            buckets[Int(first)].append(keywords.count)
            keywords.append(bytes)
            labels.append(label)
        }
    }

    var isEmpty: Bool { keywords.isEmpty }

    /// Every occurrence, as byte ranges, in order of position; at one position the longest wins.
    /// - Parameter lowered: the message with ASCII letters folded to lower case.
    func matches(in lowered: [UInt8]) -> [Range<Int>] {
        labelledMatches(in: lowered).map(\.range)
    }

    /// Like `matches(in:)`, with the label of the keyword that matched.
    func labelledMatches(in lowered: [UInt8]) -> [(range: Range<Int>, label: Int)] {
        guard !keywords.isEmpty else { return [] }
        var result: [(range: Range<Int>, label: Int)] = []
        var i = 0
        let n = lowered.count
        while i < n {
            let b = lowered[i]
            let bucket = buckets[Int(b)]
            if !bucket.isEmpty, i == 0 || !Bytes.isWord(lowered[i - 1]) || !Bytes.isWord(b) {
                var best = -1
                var label = 0
                for index in bucket {
                    if let end = matchEnd(keywords[index], lowered, at: i), end > best {
                        best = end
                        label = labels[index]
                    }
                }
                if best > i {
                    result.append((i..<best, label))
                    i = best
                    continue
                }
            }
            i += 1
        }
        return result
    }

    private func matchEnd(_ keyword: [UInt8], _ text: [UInt8], at start: Int) -> Int? {
        var j = start
        for k in keyword {
            if k == UInt8(ascii: " ") {
                guard j < text.count, Bytes.isSpace(text[j]) else { return nil }
                while j < text.count, Bytes.isSpace(text[j]) { j += 1 }
            } else {
                guard j < text.count, text[j] == k else { return nil }
                j += 1
            }
        }
        if let last = keyword.last, Bytes.isWord(last), j < text.count, Bytes.isWord(text[j]) { return nil }
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

    /// Context word ends in order (for detectors that look forward from a label).
    var positions: [Int] { ends }
}
