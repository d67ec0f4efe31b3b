// The JSON of the OpenAI-compatible `/v1/chat/completions` endpoint, as far as Enclave uses it:
// the request body we send (always `stream: true` with `stream_options.include_usage`) and the
// chunks that come back as SSE `data:` payloads. vLLM, llama.cpp server, Ollama and LocalAI all
// speak this subset. Unknown fields in chunks are ignored; a payload that is not a JSON object of
// the expected shape is a malformed stream.
internal import Foundation
internal import Inference

/// The request body of `POST /v1/chat/completions`.
struct OpenAIChatBody: Encodable {
    struct Message: Encodable {
        var role: String
        var content: String
    }

    struct StreamOptions: Encodable {
        var include_usage = true
    }

    var model: String
    var messages: [Message]
    var stream = true
    var stream_options = StreamOptions()
    var max_tokens: Int
    var temperature: Double?
    var top_p: Double?
    var seed: UInt64?

    init(model: String, request: ChatRequest) {
        self.model = model
        messages = request.messages.map { Message(role: $0.role.rawValue, content: $0.content) }
        max_tokens = request.maxTokens
        temperature = request.sampling.map { Double(max($0.temperature, 0)) }
        top_p = request.sampling.map { Double(min(max($0.topP, 0), 1)) }
        seed = request.sampling?.seed
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self))
    }
}

/// One streamed chunk (`object: chat.completion.chunk`), or an in-stream error.
struct OpenAIChunk: Decodable {
    struct Choice: Decodable {
        struct Delta: Decodable {
            var content: String?
        }

        var delta: Delta?
        var finish_reason: String?
    }

    struct Usage: Decodable {
        var prompt_tokens: Int
        var completion_tokens: Int
    }

    struct ErrorBody: Decodable {
        var message: String?
        var code: Code?

        /// Servers send the code as a string or a number.
        enum Code: Decodable {
            case text(String)
            case number(Int)

            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let number = try? container.decode(Int.self) {
                    self = .number(number)
                } else {
                    self = .text(try container.decode(String.self))
                }
            }
        }
    }

    var model: String?
    var choices: [Choice]?
    var usage: Usage?
    var error: ErrorBody?
}

/// Turns SSE events into provider events and tracks whether the reply completed.
struct OpenAIChunkDecoder {
    private(set) var finished = false
    private(set) var sawDone = false
    private var reportedModel = false
    private let decoder = JSONDecoder()

    /// The provider events in one SSE event's data.
    mutating func decode(_ event: ServerSentEvent) throws(RoutingError) -> [ProviderEvent] {
        let data = event.data.trimmingCharacters(in: .whitespaces)
        if data == "[DONE]" {
            sawDone = true
            return []
        }
        guard !sawDone else { throw RoutingError.provider(.malformedStream, "data after [DONE]") }
        let chunk: OpenAIChunk
        do {
            chunk = try decoder.decode(OpenAIChunk.self, from: Data(data.utf8))
        } catch {
            throw RoutingError.provider(.malformedStream, "a data payload is not a completion chunk")
        }
        if let error = chunk.error {
            let code: String
            switch error.code {
            case .text(let text): code = text
            case .number(let number): code = String(number)
            case nil: code = "unspecified"
            }
            // The provider's message may quote the prompt back; keep only its code.
            throw RoutingError.provider(.reported, "code \(code.prefix(64))")
        }
        var events: [ProviderEvent] = []
        if !reportedModel, let model = chunk.model, !model.isEmpty {
            reportedModel = true
            events.append(.model(model))
        }
        for choice in chunk.choices ?? [] {
            if let content = choice.delta?.content, !content.isEmpty { events.append(.text(content)) }
            if choice.finish_reason != nil { finished = true }
        }
        if let usage = chunk.usage {
            events.append(.usage(tokensIn: usage.prompt_tokens, tokensOut: usage.completion_tokens))
        }
        if chunk.choices == nil, chunk.usage == nil {
            throw RoutingError.provider(.malformedStream, "a chunk has neither choices nor usage")
        }
        return events
    }

    /// Whether the stream may end here: `[DONE]` arrived, or a choice finished.
    var isComplete: Bool { sawDone || finished }
}
