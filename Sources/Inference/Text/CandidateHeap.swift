// A binary heap of merge candidates, shared by both tokenizer models: byte-pair encoding pops the
// lowest-ranked pair first, SentencePiece the highest-scored; each passes its own order.

/// A binary heap whose first element is the one that `precedes` every other.
struct CandidateHeap<Element> {
    private var items: [Element] = []
    private let precedes: (Element, Element) -> Bool

    /// An empty heap ordered by `precedes`.
    init(by precedes: @escaping (Element, Element) -> Bool) { self.precedes = precedes }

    /// Adds `element`.
    mutating func push(_ element: Element) {
        items.append(element)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the first element, or nil when empty.
    mutating func pop() -> Element? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let a = 2 * parent + 1, b = a + 1
                var best = parent
                if a < items.count && precedes(items[a], items[best]) { best = a }
                if b < items.count && precedes(items[b], items[best]) { best = b }
                if best == parent { break }
                items.swapAt(parent, best)
                parent = best
            }
        }
        return top
    }
}
