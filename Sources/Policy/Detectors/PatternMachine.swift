// Compiling a pattern's tree to NFA instructions, and running them (a Pike VM: all threads advance
// together over the message, one byte at a time, so the cost is at most bytes x instructions).
// Matches are leftmost-longest and non-overlapping; empty matches are never reported.

struct PatternCompiler {
    var program: [Pattern.Instruction] = []

    mutating func emitProgram(_ node: PatternNode) throws(Pattern.SyntaxError) {
        try emit(node)
        program.append(.match)
    }

    private mutating func append(_ instruction: Pattern.Instruction) throws(Pattern.SyntaxError) -> Int {
        guard program.count < Pattern.maxProgramSize else {
            throw Pattern.SyntaxError(
                offset: 0, message: "pattern too complex (more than \(Pattern.maxProgramSize) states)")
        }
        program.append(instruction)
        return program.count - 1
    }

    private mutating func emit(_ node: PatternNode) throws(Pattern.SyntaxError) {
        switch node {
        case .bytes(let set):
            _ = try append(.bytes(set, next: program.count + 1))
        case .sequence(let items):
            for item in items { try emit(item) }
        case .alternation(let branches):
            var jumps: [Int] = []
            for (index, branch) in branches.enumerated() {
                if index < branches.count - 1 {
                    let split = try append(.split(0, 0))
                    try emit(branch)
                    jumps.append(try append(.jump(0)))
                    program[split] = .split(split + 1, program.count)
                } else {
                    try emit(branch)
                }
            }
            for jump in jumps { program[jump] = .jump(program.count) }
        case .repeatRange(let body, let low, let high):
            for _ in 0..<low { try emit(body) }
            if let high {
                var splits: [Int] = []
                for _ in low..<high {
                    splits.append(try append(.split(0, 0)))
                    try emit(body)
                }
                for split in splits { program[split] = .split(split + 1, program.count) }
            } else {
                let split = try append(.split(0, 0))
                try emit(body)
                _ = try append(.jump(split))
                program[split] = .split(split + 1, program.count)
            }
        case .wordBoundary(let want):
            _ = try append(.wordBoundary(want, next: program.count + 1))
        case .lineStart:
            _ = try append(.lineStart(next: program.count + 1))
        case .lineEnd:
            _ = try append(.lineEnd(next: program.count + 1))
        }
    }

    /// The bytes that can start a match from `pc` (all bytes if an empty match is possible).
    func firstBytes(from pc: Int) -> ByteSet {
        var result = ByteSet()
        var seen = Set<Int>()
        var stack = [pc]
        while let p = stack.popLast() {
            guard seen.insert(p).inserted else { continue }
            switch program[p] {
            case .bytes(let set, _): result.formUnion(set)
            case .split(let a, let b): stack.append(a); stack.append(b)
            case .jump(let a): stack.append(a)
            case .wordBoundary(_, let next), .lineStart(let next), .lineEnd(let next): stack.append(next)
            case .match: return .any
            }
        }
        return result
    }

    /// Whether every way from `pc` to a first byte (or to a match) passes a `\b` before consuming
    /// anything: then, if every first byte is a word byte, a match can only begin where the byte
    /// before is not one, and the scan between candidates can skip the other positions.
    func startsAtWordBoundary(from pc: Int) -> Bool {
        var seen = Set<Int>()
        var stack = [pc]
        while let p = stack.popLast() {
            guard seen.insert(p).inserted else { continue }
            switch program[p] {
            case .wordBoundary(true, _): continue
            case .split(let a, let b): stack.append(a); stack.append(b)
            case .jump(let a): stack.append(a)
            case .wordBoundary(false, let next), .lineStart(let next), .lineEnd(let next): stack.append(next)
            case .bytes, .match: return false
            }
        }
        return true
    }

    /// The ways a match can begin from `pc`: each byte set that can be consumed first, with the
    /// bytes that can follow it (all bytes when a match can end after it or the match can be empty).
    func firstPairs(from pc: Int) -> [(ByteSet, ByteSet)] {
        var result: [(ByteSet, ByteSet)] = []
        var seen = Set<Int>()
        var stack = [pc]
        while let p = stack.popLast() {
            guard seen.insert(p).inserted else { continue }
            switch program[p] {
            case .bytes(let set, let next): result.append((set, firstBytes(from: next)))
            case .split(let a, let b): stack.append(a); stack.append(b)
            case .jump(let a): stack.append(a)
            case .wordBoundary(_, let next), .lineStart(let next), .lineEnd(let next): stack.append(next)
            case .match: return [(.any, .any)]
            }
        }
        return result
    }
}

extension Pattern {
    /// The first position from `start` where a match can begin, judged by its first two bytes and,
    /// when the pattern starts with `\b`, the byte before; `n` if none.
    private func nextCandidate(_ bytes: [UInt8], from start: Int) -> Int {
        firstTable.withUnsafeBufferPointer { firsts in
            pairTable.withUnsafeBufferPointer { pairs in
                bytes.withUnsafeBufferPointer { text in
                    let n = text.count
                    var k = start
                    while k < n {
                        if let (a, b) = firstByteValues { k = Bytes.firstIndex(of: a, or: b, in: text, from: k) }
                        guard k < n else { break }
                        if firsts[Int(text[k])], !startsAtWordBoundary || k == 0 || !Self.isWordByte(text[k - 1]) {
                            guard k + 1 < n else { return k }
                            let key = Int(text[k]) << 8 | Int(text[k + 1])
                            if pairs[key >> 6] & (1 << UInt64(key & 63)) != 0 { return k }
                        }
                        k += 1
                    }
                    return n
                }
            }
        }
    }

    private static func isWordByte(_ b: UInt8) -> Bool { Bytes.isAlnum(b) || b == 0x5F }

    /// Every leftmost-longest, non-overlapping match in `bytes`, at most `limit` of them.
    /// - Parameter budget: thread steps left for this message; running out throws.
    func matches(in bytes: [UInt8], limit: Int = 1000, budget: inout Int) throws(PolicyError) -> [Range<Int>] {
        let n = bytes.count
        var results: [Range<Int>] = []
        var marks = [Int](repeating: -1, count: program.count)
        var generation = 0
        var current: [(pc: Int, start: Int)] = []
        var next: [(pc: Int, start: Int)] = []
        var stack: [Int] = []
        var matchStart = -1
        var matchEnd = -1

        func add(_ pc: Int, start: Int, at position: Int, to list: inout [(pc: Int, start: Int)]) {
            stack.append(pc)
            while let p = stack.popLast() {
                if marks[p] == generation { continue }
                marks[p] = generation
                switch program[p] {
                case .bytes: list.append((p, start))
                case .split(let a, let b):
                    stack.append(b)
                    stack.append(a)
                case .jump(let a): stack.append(a)
                case .wordBoundary(let want, let following):
                    let before = position > 0 && Self.isWordByte(bytes[position - 1])
                    let after = position < n && Self.isWordByte(bytes[position])
                    if (before != after) == want { stack.append(following) }
                case .lineStart(let following):
                    if position == 0 || bytes[position - 1] == 0x0A { stack.append(following) }
                case .lineEnd(let following):
                    if position == n || bytes[position] == 0x0A { stack.append(following) }
                case .match:
                    if position > start,
                        matchStart < 0 || start < matchStart || (start == matchStart && position > matchEnd)
                    {
                        matchStart = start
                        matchEnd = position
                    }
                }
            }
        }

        var i = 0
        while results.count < limit {
            if current.isEmpty {
                if matchStart >= 0 {
                    results.append(matchStart..<matchEnd)
                    i = matchEnd
                    matchStart = -1
                    continue
                }
                i = nextCandidate(bytes, from: i)
                guard i < n else { break }
                generation += 1
                add(0, start: i, at: i, to: &current)
                if current.isEmpty {
                    i += 1
                    continue
                }
            }
            guard i < n else { break }
            budget -= current.count + 1
            if budget < 0 { throw .timeBudgetExceeded }
            generation += 1
            next.removeAll(keepingCapacity: true)
            let byte = bytes[i]
            for thread in current {
                if matchStart >= 0, thread.start > matchStart { continue }
                if i + 1 - thread.start > Self.maxMatchLength { continue }
                if case .bytes(let set, let following) = program[thread.pc], set.contains(byte) {
                    add(following, start: thread.start, at: i + 1, to: &next)
                }
            }
            if matchStart < 0, i + 1 < n, firstTable[Int(bytes[i + 1])] {
                add(0, start: i + 1, at: i + 1, to: &next)
            }
            swap(&current, &next)
            i += 1
        }
        if matchStart >= 0, results.count < limit { results.append(matchStart..<matchEnd) }
        return results
    }
}
