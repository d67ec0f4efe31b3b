// The client side of the line protocol (DESIGN.md §3) as a pure function from one decoded line to
// what it asks for. No state, no I/O: the session decides what is allowed when.
//
//   ""              → .empty                  (ignored; no final line)
//   "//etc"         → .message("/etc")        (escape of a literal leading slash)
//   "/name args"    → .command(...) or a bad-arguments / unknown-command failure
//   "\e\e \t"       → a bad-encoding failure (only control characters and spaces: nothing to send)
//   anything else   → .message(line)
import ChatCore

/// One command of the protocol, with its arguments parsed.
enum Command: Equatable, Sendable {
    case login(user: String, password: String)
    case passwd(current: String, new: String)
    case logout
    case quit
    case help
    case whoami
    case new(title: String?)
    case list
    case open(id: String)
    case history(limit: Int?)
    case delete(id: String)
    case models
    case model(name: String)
    case tag(String)
    case tags
    case feedback(up: Bool, comment: String?)
    case paste
    case audit(arguments: [String])
    case reload

    /// The commands allowed before `/login`.
    var allowedBeforeLogin: Bool {
        switch self {
        case .login, .quit, .help: true
        default: false
        }
    }
}

/// What one client line is.
enum ParsedLine: Equatable, Sendable {
    case empty
    case message(String)
    case command(Command)
    case invalid(ChatFailure)
}

/// Parses client lines.
enum CommandParser {
    /// The longest value `/history n` accepts.
    static let maximumHistory = 1000

    static func parse(_ line: String) -> ParsedLine {
        if line.isEmpty { return .empty }
        if isOnlyControl(line) {
            return .invalid(ChatFailure(.badEncoding, "the line holds only control characters"))
        }
        if line.hasPrefix("//") { return .message(String(line.dropFirst())) }
        guard line.hasPrefix("/") else { return .message(line) }
        let body = line.dropFirst()
        let name: Substring
        let rest: Substring
        if let space = body.firstIndex(of: " ") {
            name = body[..<space]
            rest = body[body.index(after: space)...]
        } else {
            name = body
            rest = ""
        }
        let arguments = rest.split(separator: " ").map(String.init)
        let text = rest.trimmingSpaces()
        switch name {
        case "login":
            // The password is everything after the user name and one space, so it may hold spaces.
            guard let space = rest.firstIndex(of: " "), !rest[..<space].isEmpty else {
                return usage("/login <user> <password>")
            }
            let password = String(rest[rest.index(after: space)...])
            guard !password.isEmpty else { return usage("/login <user> <password>") }
            return .command(.login(user: String(rest[..<space]), password: password))
        case "passwd":
            // The new password is the last word; the current one is everything between, so a password an
            // admin set with spaces can still be replaced.
            guard let space = rest.lastIndex(of: " "), !rest[..<space].isEmpty,
                !rest[rest.index(after: space)...].isEmpty
            else { return usage("/passwd <current> <new> (the new password without spaces)") }
            return .command(.passwd(current: String(rest[..<space]), new: String(rest[rest.index(after: space)...])))
        case "logout": return noArguments(.logout, arguments)
        case "quit": return noArguments(.quit, arguments)
        case "help": return .command(.help)
        case "whoami": return noArguments(.whoami, arguments)
        case "new": return .command(.new(title: text.isEmpty ? nil : text))
        case "list": return noArguments(.list, arguments)
        case "open":
            guard arguments.count == 1 else { return usage("/open <id>") }
            return .command(.open(id: arguments[0]))
        case "history":
            if arguments.isEmpty { return .command(.history(limit: nil)) }
            guard arguments.count == 1, let n = Int(arguments[0]), n > 0, n <= maximumHistory else {
                return usage("/history [n], n from 1 to \(maximumHistory)")
            }
            return .command(.history(limit: n))
        case "delete":
            guard arguments.count == 1 else { return usage("/delete <id>") }
            return .command(.delete(id: arguments[0]))
        case "models": return noArguments(.models, arguments)
        case "model":
            guard arguments.count == 1 else { return usage("/model <name>") }
            return .command(.model(name: arguments[0]))
        case "tag":
            guard arguments.count == 1 else { return usage("/tag <tag>") }
            return .command(.tag(arguments[0]))
        case "tags": return noArguments(.tags, arguments)
        case "feedback":
            guard let vote = arguments.first, vote == "up" || vote == "down" else {
                return usage("/feedback up|down [comment]")
            }
            let comment = text.dropFirst(vote.count).trimmingSpaces()
            return .command(.feedback(up: vote == "up", comment: comment.isEmpty ? nil : comment))
        case "paste": return noArguments(.paste, arguments)
        case "audit": return .command(.audit(arguments: arguments))
        case "reload": return noArguments(.reload, arguments)
        default:
            return .invalid(ChatFailure(.unknownCommand, "no command /\(printable(name)); type /help"))
        }
    }

    /// True when `line` holds a control character (C0, DEL, C1) and nothing else but spaces: what a
    /// terminal's arrow keys or Ctrl-keys leave in `nc`, never a question for the model.
    static func isOnlyControl(_ line: String) -> Bool {
        var sawControl = false
        for scalar in line.unicodeScalars {
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                sawControl = true
            } else if scalar != " " {
                return false
            }
        }
        return sawControl
    }

    private static func noArguments(_ command: Command, _ arguments: [String]) -> ParsedLine {
        arguments.isEmpty ? .command(command) : .invalid(ChatFailure(.badArguments, "this command takes no arguments"))
    }

    private static func usage(_ text: String) -> ParsedLine {
        .invalid(ChatFailure(.badArguments, "usage: \(text)"))
    }

    private static func printable(_ text: Substring) -> String {
        String(text.unicodeScalars.filter { $0.value > 0x20 && $0.value != 0x7F }.prefix(32).map(Character.init))
    }
}

/// The lines of a `/paste` block: ended by a line holding only `.`, with a leading `.` doubled by the
/// client (SMTP dot-stuffing) and undone here.
struct PasteBuffer {
    /// The most bytes a paste may hold.
    let limit: Int
    private(set) var lines: [String] = []
    private(set) var byteCount = 0

    init(limit: Int) {
        self.limit = limit
    }

    enum Step: Equatable {
        /// Keep reading.
        case more
        /// The block ended; the message is its lines joined by LF.
        case done(String)
        /// The block grew past the limit.
        case tooLong
    }

    mutating func add(_ line: String) -> Step {
        if line == "." { return .done(lines.joined(separator: "\n")) }
        let unstuffed = line.hasPrefix(".") ? String(line.dropFirst()) : line
        byteCount += unstuffed.utf8.count + 1
        guard byteCount <= limit else { return .tooLong }
        lines.append(unstuffed)
        return .more
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
