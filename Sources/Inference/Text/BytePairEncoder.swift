// Byte-pair encoding of one pre-tokenized word, by merge rank. Symbols are interned as integers:
// vocabulary ids where the text is a token, extra ids above the vocabulary for merge results that are
// not tokens themselves (they can still be merged further). The word is merged with a min-heap of
// candidate pairs (lowest rank first, leftmost on ties, as llama.cpp does), so a long word without
// spaces costs O(n log n), not O(n^2).

struct BytePairEncoder: Sendable {
    /// The result of merging a pair, and the merge's rank (lower merges first).
    struct Merge: Sendable {
        let rank: Int32
        let result: Int32
    }

    /// Symbol id for each byte's byte-level character.
    let byteSymbols: [Int32]
    /// Merges keyed by `left << 32 | right`.
    let merges: [UInt64: Merge]
    /// Texts of interned symbols that are not vocabulary tokens, id = vocabularyCount + index.
    let extraTexts: [String]
    let vocabularyCount: Int32

    /// Builds the merge table from `"left right"` strings; `tokenID` maps token text to id.
    init(merges mergeLines: [String], tokenID: [String: Int32], vocabularyCount: Int) throws(InferenceError) {
        self.vocabularyCount = Int32(vocabularyCount)
        var extras = [String]()
        var extraIDs = [String: Int32]()
        func intern(_ text: String) -> Int32 {
            if let id = tokenID[text] { return id }
            if let id = extraIDs[text] { return id }
            let id = Int32(vocabularyCount + extras.count)
            extras.append(text)
            extraIDs[text] = id
            return id
        }
        byteSymbols = ByteLevel.scalarForByte.map { intern(String($0)) }
        var table = [UInt64: Merge](minimumCapacity: mergeLines.count)
        for (rank, line) in mergeLines.enumerated() {
            // llama.cpp splits at the first space after the first byte.
            let utf8 = line.utf8
            guard let cut = utf8.dropFirst().firstIndex(of: UInt8(ascii: " ")) else {
                throw .invalidVocabulary("merge \(rank) has no space separating its two parts")
            }
            let left = String(line[..<cut])
            let right = String(line[utf8.index(after: cut)...])
            let leftID = intern(left), rightID = intern(right)
            let key = UInt64(UInt32(bitPattern: leftID)) << 32 | UInt64(UInt32(bitPattern: rightID))
            if table[key] == nil {
                table[key] = Merge(rank: Int32(rank), result: intern(left + right))
            }
        }
        merges = table
        extraTexts = extras
    }

    private func merge(_ left: Int32, _ right: Int32) -> Merge? {
        merges[UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))]
    }

    /// A candidate merge of the symbol at `left` with its right neighbour, as it stood when queued.
    private struct Candidate {
        let rank: Int32
        let left: Int32
        let leftSymbol: Int32
        let rightSymbol: Int32

        func precedes(_ other: Candidate) -> Bool {
            rank != other.rank ? rank < other.rank : left < other.left
        }
    }

    /// The symbol ids of `bytes` after all merges (may include ids ≥ the vocabulary size).
    func encode(_ bytes: ArraySlice<UInt8>) -> [Int32] {
        var symbols = bytes.map { byteSymbols[Int($0)] }
        if symbols.count < 2 { return symbols }
        var next = Array(1...symbols.count).map(Int32.init)
        var previous = Array(-1..<(symbols.count - 1)).map(Int32.init)
        next[symbols.count - 1] = -1
        var heap = CandidateHeap<Candidate> { $0.precedes($1) }
        func push(_ left: Int32) {
            guard left >= 0 else { return }
            let right = next[Int(left)]
            guard right >= 0, let found = merge(symbols[Int(left)], symbols[Int(right)]) else { return }
            heap.push(
                Candidate(
                    rank: found.rank, left: left, leftSymbol: symbols[Int(left)],
                    rightSymbol: symbols[Int(right)]))
        }
        for index in 0..<(symbols.count - 1) { push(Int32(index)) }
        let removed: Int32 = -2
        while let candidate = heap.pop() {
            let left = Int(candidate.left)
            let rightIndex = next[left]
            // Skip candidates made stale by an earlier merge on either side.
            guard symbols[left] == candidate.leftSymbol, rightIndex >= 0,
                symbols[Int(rightIndex)] == candidate.rightSymbol,
                let found = merge(candidate.leftSymbol, candidate.rightSymbol)
            else { continue }
            let right = Int(rightIndex)
            symbols[left] = found.result
            symbols[right] = removed
            next[left] = next[right]
            if next[right] >= 0 { previous[Int(next[right])] = Int32(left) }
            push(previous[left])
            push(Int32(left))
        }
        var result = [Int32]()
        var index: Int32 = 0
        while index >= 0 {
            result.append(symbols[Int(index)])
            index = next[Int(index)]
        }
        return result
    }

    /// The text of an interned symbol that is not a vocabulary token.
    func extraText(_ id: Int32) -> String? {
        let index = Int(id - vocabularyCount)
        return index >= 0 && index < extraTexts.count ? extraTexts[index] : nil
    }
}
