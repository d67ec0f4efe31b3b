// `enclave chat`: a terminal client for people (password without echo, replies shown as they
// stream, line editing, paste, Ctrl-C to stop a reply: LineEditorTerminal.swift) that is also
// scriptable: with stdin not a terminal, the first line is the password and every further line is
// sent in turn, each waiting for its final line. The session itself is EnclaveClient's `ChatClient`.
import ArgumentParser
import EnclaveClient
import Foundation

struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Talk to an Enclave server (like `nc`, with a hidden password prompt and TLS)."
    )

    @Option(help: "Server host.") var host = "127.0.0.1"
    @Option(help: "Server port.") var port = 7878
    @Option(help: "Log in as this user (the password is prompted, or read as the first line of stdin).")
    var user: String?
    @Flag(help: "Connect with TLS 1.2+.") var tls = false
    @Option(name: .customLong("ca"), help: "PEM file of certificate authorities to trust (with --tls).")
    var caFile: String?

    func run() async throws {
        var options = ChatClient.Options()
        options.host = host
        options.port = port
        options.user = user
        options.tls = tls || caFile != nil
        options.caFile = caFile
        let terminal = isatty(STDIN_FILENO) == 1 ? TerminalInput() : nil
        options.forPeople = terminal != nil
        let input: any ChatInput = terminal ?? ScriptInput { Swift.readLine(strippingNewline: true) }
        let client = ChatClient(options: options, input: input) { text in
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        let status = await client.run()
        terminal?.restore()
        if status != 0 { throw ExitCode(status) }
    }
}

/// Reading a secret from the terminal without echo (or a plain line when stdin is not a terminal).
enum Terminal {
    static func readSecret(prompt: String) -> String? {
        guard isatty(STDIN_FILENO) == 1 else { return readLine(strippingNewline: true) }
        FileHandle.standardError.write(Data(prompt.utf8))
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return readLine(strippingNewline: true)
    }
}
