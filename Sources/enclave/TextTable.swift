// Plain-text tables for the commands that print rows (`audit query`, `audit report`, `model list`).

enum TextTable {
    /// Left-aligned columns separated by two spaces; the last column is not padded.
    static func render(_ rows: [[String]]) -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        var out = ""
        for row in rows {
            let cells = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }
            out += cells.joined(separator: "  ") + "\n"
        }
        return out
    }
}
