// Several keyword matchers run in one pass over a message: the built-in context words and every
// admin keyword list. All their keywords go into one trie, built once when the policy loads, so a
// message only pays for the scan: at each word start a two-byte bitmap rejects almost every word,
// and a survivor walks the trie once, however many lists and keywords there are (before, each list
// compared each of its keywords with that first byte in turn).

/// Keyword matchers prepared to share one pass over a message.
struct KeywordPass: Sendable {
    /// One trie node: its outgoing edges and the keywords that end on it.
    private struct Node: Sendable {
        /// Edges `edges[firstEdge..<endEdge]`; at most one of them is the space edge (byte 0x20),
        /// which stands for any run of white space.
        var firstEdge: Int32 = 0
        var endEdge: Int32 = 0
        /// Keywords ending here: `terminals[firstTerminal..<endTerminal]`, at most one per matcher.
        var firstTerminal: Int32 = 0
        var endTerminal: Int32 = 0
        /// The byte into this node is a word byte, so a keyword ending here needs a word boundary after it.
        var needsBoundary = false
    }

    private let matcherCount: Int
    /// Node 0 is the root; its children are also in `rootChild` for the first step.
    private let nodes: [Node]
    private let edges: [(byte: UInt8, target: Int32)]
    private let terminals: [(matcher: Int32, label: Int)]
    /// The root's child for each first byte, or -1.
    private let rootChild: [Int32]
    /// Bit `first << 8 | second` is set when some keyword can start with those two bytes (a keyword
    /// of one byte sets every second byte; a space in a keyword stands for every space byte).
    private let pairs: [UInt64]

    /// 1 for the bytes `Bytes.isWord` accepts, else 0.
    private static let wordBytes: [UInt8] = (0...255).map { Bytes.isWord(UInt8($0)) ? 1 : 0 }

    init(_ matchers: [KeywordMatcher]) {
        matcherCount = matchers.count
        // Build with dictionaries (load time only), then flatten into arrays for the scan.
        var children: [[UInt8: Int]] = [[:]]
        var ends: [[(matcher: Int32, label: Int)]] = [[]]
        var incoming: [UInt8] = [0]
        var pairs = [UInt64](repeating: 0, count: 65_536 / 64)
        let spaces = (0...255).map(UInt8.init).filter(Bytes.isSpace)
        for (m, matcher) in matchers.enumerated() {
            for (keyword, label) in zip(matcher.keywords, matcher.labels) {
                var node = 0
                for b in keyword {
                    if let next = children[node][b] {
                        node = next
                    } else {
                        children.append([:])
                        ends.append([])
                        incoming.append(b)
                        children[node][b] = children.count - 1
                        node = children.count - 1
                    }
                }
                // Of equal keywords in one list, the first one's label is reported.
                if !ends[node].contains(where: { $0.matcher == Int32(m) }) { ends[node].append((Int32(m), label)) }
                let first = Int(keyword[keyword.startIndex])
                let seconds: [UInt8]
                if keyword.count == 1 {
                    seconds = (0...255).map(UInt8.init)
                } else {
                    let second = keyword[keyword.startIndex + 1]
                    seconds = second == UInt8(ascii: " ") ? spaces : [second]
                }
                for second in seconds {
                    let key = first << 8 | Int(second)
                    pairs[key >> 6] |= 1 << UInt64(key & 63)
                }
            }
        }
        var nodes: [Node] = []
        var edges: [(byte: UInt8, target: Int32)] = []
        var terminals: [(matcher: Int32, label: Int)] = []
        for n in children.indices {
            var node = Node()
            node.firstEdge = Int32(edges.count)
            edges += children[n].sorted { $0.key < $1.key }.map { ($0.key, Int32($0.value)) }
            node.endEdge = Int32(edges.count)
            node.firstTerminal = Int32(terminals.count)
            terminals += ends[n]
            node.endTerminal = Int32(terminals.count)
            node.needsBoundary = n > 0 && Bytes.isWord(incoming[n])
            nodes.append(node)
        }
        self.nodes = nodes
        self.edges = edges
        self.terminals = terminals
        self.rootChild = (0...255).map { b in Int32(children[0][UInt8(b)] ?? -1) }
        self.pairs = pairs
    }

    /// The matches of every matcher, each exactly as its own `labelledMatches(in:)` would report:
    /// at each word boundary the longest keyword of the list, matches of one list not overlapping.
    /// - Parameter lowered: the message with ASCII letters folded to lower case.
    func matches(in lowered: [UInt8]) -> [[(range: Range<Int>, label: Int)]] {
        var scan = Scan(matcherCount: matcherCount)
        guard matcherCount > 0 else { return scan.results }
        lowered.withUnsafeBufferPointer { text in
            pairs.withUnsafeBufferPointer { pairs in
                Self.wordBytes.withUnsafeBufferPointer { isWord in
                    let n = text.count
                    // Branch-free filter per byte: the two-byte bitmap (which implies a keyword starting
                    // with this byte) and the word boundary; only the rare survivors branch.
                    var previousIsWord: UInt64 = 0
                    for i in 0..<max(0, n - 1) {
                        let b = text[i]
                        let key = Int(b) << 8 | Int(text[i + 1])
                        let bit = pairs[key &>> 6] &>> UInt64(key & 63)
                        let isWordHere = UInt64(isWord[Int(b)])
                        if bit & ~(previousIsWord & isWordHere) & 1 != 0 { scan.visit(i, text, self) }
                        previousIsWord = isWordHere
                    }
                    // The last byte has no second byte for the bitmap.
                    if n > 0, rootChild[Int(text[n - 1])] >= 0,
                        n == 1 || isWord[Int(text[n - 2])] == 0 || isWord[Int(text[n - 1])] == 0
                    {
                        scan.visit(n - 1, text, self)
                    }
                }
            }
        }
        return scan.results
    }

    /// The state of one message's pass, kept in a struct so its arrays are plain stored properties
    /// (no captured variables, whose accesses the compiler would check at run time).
    private struct Scan {
        var results: [[(range: Range<Int>, label: Int)]]
        /// Per matcher, where its last match ended: matches of one list do not overlap.
        var next: [Int]
        /// Per matcher, its longest keyword in the current walk (end -1: none yet).
        var best: [(end: Int, label: Int)]
        /// The matchers with an entry in `best`: `touched[0..<touchedCount]` (a fixed array, so clearing
        /// it per walk costs nothing).
        var touched: [Int]
        var touchedCount = 0

        init(matcherCount: Int) {
            results = Array(repeating: [], count: matcherCount)
            next = Array(repeating: 0, count: matcherCount)
            best = Array(repeating: (-1, 0), count: matcherCount)
            touched = Array(repeating: 0, count: matcherCount)
        }

        /// Walks the trie from `i` (a word boundary whose first byte starts some keyword) and records,
        /// for each matcher free at `i`, its longest keyword there.
        mutating func visit(_ i: Int, _ text: UnsafeBufferPointer<UInt8>, _ pass: KeywordPass) {
            let n = text.count
            var node = Int(pass.rootChild[Int(text[i])])
            var j = i + 1
            while node >= 0 {
                let here = pass.nodes[node]
                if here.firstTerminal < here.endTerminal, !here.needsBoundary || j == n || !Bytes.isWord(text[j]) {
                    for t in Int(here.firstTerminal)..<Int(here.endTerminal) {
                        let m = Int(pass.terminals[t].matcher)
                        guard i >= next[m] else { continue }
                        if best[m].end < 0 {
                            touched[touchedCount] = m
                            touchedCount += 1
                        }
                        best[m] = (j, pass.terminals[t].label)
                    }
                }
                guard j < n, here.firstEdge < here.endEdge else { break }
                // A text space follows the space edge and consumes the whole run of spaces.
                let space = Bytes.isSpace(text[j])
                let b = space ? UInt8(ascii: " ") : text[j]
                node = -1
                for e in Int(here.firstEdge)..<Int(here.endEdge) where pass.edges[e].byte == b {
                    node = Int(pass.edges[e].target)
                    break
                }
                j += 1
                if space { while j < n, Bytes.isSpace(text[j]) { j += 1 } }
            }
            for k in 0..<touchedCount {
                let m = touched[k]
                results[m].append((i..<best[m].end, best[m].label))
                next[m] = best[m].end
                best[m].end = -1
            }
            touchedCount = 0
        }
    }
}
