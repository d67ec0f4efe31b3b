// CommandParser: every command's grammar, the `//` escape, and the /paste dot-stuffing rules.
import ChatCore
import Testing

@testable import ChatServer

@Suite struct CommandParserTests {
    @Test func plainLinesAreMessagesAndEmptyLinesAreIgnored() {
        #expect(CommandParser.parse("") == .empty)
        #expect(CommandParser.parse("hello there") == .message("hello there"))
        #expect(CommandParser.parse(" /not a command") == .message(" /not a command"))
    }

    @Test func doubleSlashEscapesALiteralSlash() {
        #expect(CommandParser.parse("//etc/passwd is a path") == .message("/etc/passwd is a path"))
        #expect(CommandParser.parse("//") == .message("/"))
    }

    @Test func loginKeepsSpacesInThePassword() {
        #expect(
            CommandParser.parse("/login alice correct horse")
                == .command(.login(user: "alice", password: "correct horse")))
        #expect(CommandParser.parse("/login alice").failureCode == .badArguments)
        #expect(CommandParser.parse("/login").failureCode == .badArguments)
        #expect(CommandParser.parse("/login  pw").failureCode == .badArguments)
    }

    @Test func commandsParseTheirArguments() {
        #expect(CommandParser.parse("/new") == .command(.new(title: nil)))
        #expect(CommandParser.parse("/new  Ward 3 rota ") == .command(.new(title: "Ward 3 rota")))
        #expect(CommandParser.parse("/history") == .command(.history(limit: nil)))
        #expect(CommandParser.parse("/history 5") == .command(.history(limit: 5)))
        #expect(CommandParser.parse("/open c1") == .command(.open(id: "c1")))
        #expect(CommandParser.parse("/delete c1") == .command(.delete(id: "c1")))
        #expect(CommandParser.parse("/model local") == .command(.model(name: "local")))
        #expect(CommandParser.parse("/tag phi") == .command(.tag("phi")))
        #expect(CommandParser.parse("/feedback up") == .command(.feedback(up: true, comment: nil)))
        #expect(
            CommandParser.parse("/feedback down too  long ") == .command(.feedback(up: false, comment: "too  long")))
        #expect(CommandParser.parse("/audit since 1h") == .command(.audit(arguments: ["since", "1h"])))
        for (line, command) in [
            ("/logout", Command.logout), ("/quit", .quit), ("/help", .help), ("/whoami", .whoami), ("/list", .list),
            ("/models", .models), ("/tags", .tags), ("/paste", .paste), ("/reload", .reload),
        ] {
            #expect(CommandParser.parse(line) == .command(command))
        }
    }

    @Test func badArgumentsAndUnknownCommandsHaveStableCodes() {
        #expect(CommandParser.parse("/history x").failureCode == .badArguments)
        #expect(CommandParser.parse("/history 0").failureCode == .badArguments)
        #expect(CommandParser.parse("/history 99999").failureCode == .badArguments)
        #expect(CommandParser.parse("/open").failureCode == .badArguments)
        #expect(CommandParser.parse("/open a b").failureCode == .badArguments)
        #expect(CommandParser.parse("/feedback sideways").failureCode == .badArguments)
        #expect(CommandParser.parse("/list everything").failureCode == .badArguments)
        #expect(CommandParser.parse("/frobnicate").failureCode == .unknownCommand)
        #expect(CommandParser.parse("/").failureCode == .unknownCommand)
    }

    @Test func onlyLoginQuitAndHelpAreAllowedBeforeLogin() {
        #expect(Command.login(user: "a", password: "b").allowedBeforeLogin)
        #expect(Command.quit.allowedBeforeLogin)
        #expect(Command.help.allowedBeforeLogin)
        #expect(!Command.list.allowedBeforeLogin)
        #expect(!Command.paste.allowedBeforeLogin)
    }

    @Test func pasteUndoesDotStuffingAndEndsOnALoneDot() {
        var paste = PasteBuffer(limit: 1000)
        #expect(paste.add("first line") == .more)
        #expect(paste.add("..leading dot") == .more)
        #expect(paste.add("") == .more)
        #expect(paste.add(". ") == .more)
        #expect(paste.add(".") == .done("first line\n.leading dot\n\n "))
    }

    @Test func pasteStopsAtItsLimit() {
        var paste = PasteBuffer(limit: 10)
        #expect(paste.add("12345") == .more)
        #expect(paste.add("67890") == .tooLong)
    }
}

extension ParsedLine {
    var failureCode: ChatFailure.Code? {
        if case .invalid(let failure) = self { return failure.code }
        return nil
    }
}
