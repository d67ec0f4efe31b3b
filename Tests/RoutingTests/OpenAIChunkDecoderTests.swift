// Chunk decoding: the request body we send and the chunks servers send back, written by hand from the
// OpenAI chat-completions streaming format (the same shape vLLM and llama.cpp server emit).
import Foundation
import Inference
import Testing

@testable import Routing

@Suite struct OpenAIChunkDecoderTests {
    @Test func decodesTextModelUsageAndDone() throws {
        var decoder = OpenAIChunkDecoder()
        let first = try decoder.decode(
            ServerSentEvent(
                data:
                    #"{"id":"x","model":"m-1","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"#
                    + #""finish_reason":null}]}"#
            ))
        #expect(first == [.model("m-1"), .text("Hi")])
        let finish = try decoder.decode(
            ServerSentEvent(
                data:
                    #"{"model":"m-1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#))
        #expect(finish.isEmpty)
        #expect(decoder.isComplete)
        let usage = try decoder.decode(
            ServerSentEvent(
                data:
                    #"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#))
        #expect(usage == [.usage(tokensIn: 12, tokensOut: 3)])
        #expect(try decoder.decode(ServerSentEvent(data: "[DONE]")).isEmpty)
        #expect(decoder.sawDone)
    }

    @Test func malformedPayloadsHaveTheMalformedCode() {
        for payload in ["{not json", "[1,2]", #"{"id":"x"}"#, "42"] {
            var decoder = OpenAIChunkDecoder()
            do {
                _ = try decoder.decode(ServerSentEvent(data: payload))
                Issue.record("accepted \(payload)")
            } catch {
                #expect(error.code == "provider-malformed-stream")
            }
        }
    }

    @Test func anInStreamErrorKeepsOnlyItsCode() {
        var decoder = OpenAIChunkDecoder()
        do {
            _ = try decoder.decode(
                ServerSentEvent(data: #"{"error":{"message":"your prompt SECRET-1 was bad","code":"bad_request"}}"#))
            Issue.record("an error chunk was accepted")
        } catch {
            #expect(error.providerFailure == .reported)
            #expect(!error.description.contains("SECRET-1"))
            #expect(error.description.contains("bad_request"))
        }
    }

    @Test func requestBodyStreamsWithUsage() throws {
        let request = ChatRequest(
            messages: [ChatTurn(role: .system, content: "sys"), ChatTurn(role: .user, content: "hi")],
            maxTokens: 32, sampling: SamplingParameters(temperature: 0, seed: 7))
        let body = try OpenAIChatBody(model: "m", request: request).encoded()
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect(json["stream"] as? Bool == true)
        #expect((json["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
        #expect(json["model"] as? String == "m")
        #expect(json["max_tokens"] as? Int == 32)
        let messages = try #require(json["messages"] as? [[String: String]])
        #expect(messages == [["role": "system", "content": "sys"], ["role": "user", "content": "hi"]])
    }
}
