// SentencePiece encoding of one piece of plain text, as llama.cpp's `llama` tokenizer model does it
// (Gemma, Llama 2, Mistral): spaces become `▁`, the text starts as one symbol per UTF-8 character, and
// the adjacent pair whose concatenation is the highest-scored token merges first (the leftmost on equal
// scores) until no pair is a token. A remaining symbol that is not a token is spelt with byte tokens
// `<0xNN>`. Unlike BPE there are no merge rules: the scores alone decide.
//
// llama.cpp also keeps a table to split a non-token symbol back into the pair it came from; every merged
// symbol is a token by construction, so only single characters can miss, and those go to bytes here.
// Pieces are looked up by their bytes: Swift strings compare by canonical equivalence, so a decomposed
// "e\u{301}" would otherwise find the token of the precomposed "é".

/// The SentencePiece merge loop over a vocabulary's scores.
struct SentencePieceEncoder: Sendable {
    /// Score of each token id (`tokenizer.ggml.scores`; 0 when the file has none).
    let scores: [Float]
    /// The `<0xNN>` token of each byte, or nil.
    let byteTokens: [Int32?]
    /// Where a byte has no token at all.
    let unknownID: Int32?
    /// Token ids by their UTF-8 bytes (the last of equal texts wins, as in llama.cpp's map).
    let pieceID: [[UInt8]: Int32]

    /// The escaped form of a space.
    static let space: [UInt8] = Array("\u{2581}".utf8)

    init(tokens: [String], scores: [Float], unknownID: Int32?) {
        self.scores = scores
        self.unknownID = unknownID
        var ids = [[UInt8]: Int32](minimumCapacity: tokens.count)
        for (id, text) in tokens.enumerated() { ids[Array(text.utf8)] = Int32(id) }
        pieceID = ids
        // As llama.cpp's byte_to_token: `<0xNN>`, else the byte itself as a one-character token.
        byteTokens = (0...255).map { (byte: Int) -> Int32? in
            let hex = String(byte, radix: 16, uppercase: true)
            if let id = ids[Array("<0x\(hex.count == 1 ? "0" + hex : hex)>".utf8)] { return id }
            return ids[[UInt8(byte)]]
        }
    }

    /// A candidate merge of the symbols at `left` and `right`, whose texts join into a token of `score`
    /// spanning `size` bytes.
    private typealias Bigram = (score: Float, left: Int32, right: Int32, size: Int)

    /// Appends the tokens of `text` (plain text, spaces not yet escaped) to `output`; `prefixSpace` puts
    /// a space in front first (the add-space-prefix rule).
    func encode(_ text: ArraySlice<UInt8>, prefixSpace: Bool, into output: inout [Int32]) {
        var bytes = [UInt8]()
        bytes.reserveCapacity(text.count + 3)
        if prefixSpace { bytes += Self.space }
        for byte in text {
            if byte == UInt8(ascii: " ") { bytes += Self.space } else { bytes.append(byte) }
        }
        guard !bytes.isEmpty else { return }
        // One symbol per UTF-8 character (a lead byte's length, cut short at the end of the text).
        var start = [Int](), length = [Int]()
        var offset = 0
        while offset < bytes.count {
            let width = min(bytes.count - offset, Self.sequenceLength(bytes[offset]))
            start.append(offset)
            length.append(width)
            offset += width
        }
        var next = (0..<start.count).map { Int32($0 + 1) }
        var previous = (0..<start.count).map { Int32($0 - 1) }
        next[start.count - 1] = -1
        func piece(_ s: Int, _ count: Int) -> [UInt8] { Array(bytes[start[s]..<start[s] + count]) }
        // Highest score first; the leftmost pair among equals.
        var heap = CandidateHeap<Bigram> { a, b in a.score != b.score ? a.score > b.score : a.left < b.left }
        func consider(_ left: Int32, _ right: Int32) {
            guard left >= 0, right >= 0 else { return }
            let size = length[Int(left)] + length[Int(right)]
            guard let id = pieceID[piece(Int(left), size)] else { return }
            let score = Int(id) < scores.count ? scores[Int(id)] : 0
            heap.push((score, left, right, size))
        }
        for s in 1..<start.count { consider(Int32(s - 1), Int32(s)) }
        while let bigram = heap.pop() {
            let (left, right) = (Int(bigram.left), Int(bigram.right))
            // Stale when either side has merged since (its length no longer adds up).
            guard length[left] > 0, length[right] > 0, length[left] + length[right] == bigram.size else { continue }
            length[left] += length[right]
            length[right] = 0
            next[left] = next[right]
            if next[right] >= 0 { previous[Int(next[right])] = Int32(left) }
            consider(previous[left], Int32(left))
            consider(Int32(left), next[left])
        }
        var s: Int32 = 0
        while s >= 0 {
            let symbol = Int(s)
            if let id = pieceID[piece(symbol, length[symbol])] {
                output.append(id)
            } else {
                for byte in bytes[start[symbol]..<start[symbol] + length[symbol]] {
                    if let id = byteTokens[Int(byte)] ?? unknownID { output.append(id) }
                }
            }
            s = next[symbol]
        }
    }

    /// Bytes of the UTF-8 sequence a lead byte starts (llama.cpp's table: 1 for continuation bytes).
    static func sequenceLength(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xC, 0xD: 2
        case 0xE: 3
        case 0xF: 4
        default: 1
        }
    }
}
