// What `/audit` shows a compliance officer: a search of the log, its full verification, or a report by
// provider, model, prompt version or user. Read from the audit log's files; the query itself is audited
// by `auditQuery` (ChatCore+Commands.swift).
import Audit

extension ChatCore {
    /// `/audit [search] key=value ...` (from= to= user= action= provider= model= decision= tag= arm= limit=);
    /// the latest 100 records when no limit is given. The first row is the header.
    /// `/audit verify`: the full check's report rows (`records`, `checkpoints`, `check`, `result ok|fail ...`).
    /// `/audit report [by=provider|model|prompt|user] [filters]`: the report's header and rows.
    func auditRows(_ arguments: [String]) throws -> [[String]] {
        switch arguments.first {
        case "verify":
            guard arguments.count == 1 else { throw ChatFailure(.badArguments, "usage: /audit verify") }
            return try audit.verify().rows
        case "report": return try auditReport(Array(arguments.dropFirst()))
        default: break
        }
        let words = arguments.first == "search" ? Array(arguments.dropFirst()) : arguments
        var query: AuditQuery
        do {
            query = try AuditQuery(words: words)
        } catch {
            throw ChatFailure(.badArguments, "\(error)")
        }
        if query.limit == nil { query.limit = 100 }
        let records = try AuditReader.search(directory: audit.directory, query: query)
        return [AuditReader.rowHeader] + records.map(AuditReader.row)
    }

    private func auditReport(_ words: [String]) throws -> [[String]] {
        var dimensions = AuditReportDimension.allCases
        var filters: [String] = []
        for word in words {
            if word.hasPrefix("by=") {
                guard let dimension = AuditReportDimension(rawValue: String(word.dropFirst(3))) else {
                    throw ChatFailure(.badArguments, "by= must be provider, model, prompt or user")
                }
                dimensions = [dimension]
            } else {
                filters.append(word)
            }
        }
        let query: AuditQuery
        do {
            query = try AuditQuery(words: filters)
        } catch {
            throw ChatFailure(.badArguments, "\(error)")
        }
        let report = try AuditReport.compute(directory: audit.directory, query: query)
        return [AuditReport.header] + dimensions.flatMap { report.rows(by: $0) }
    }
}
