// Decisions for the routing tests come from the real policy engine: a test policy where each user
// `mask-N` may use exactly the providers of bit mask N, and tags `pii`/`card` keep a conversation
// on on-prem and vpc. Building decisions by hand would let the router be tested against decisions
// the policy can never make.
import Policy
import Synchronization

enum TestPolicy {
    /// The registry the router tests use; bit i of a mask is providers[i].
    static let providers = [
        ProviderDescriptor(name: "local", residency: .onPrem),
        ProviderDescriptor(name: "vpc-a", residency: .vpc),
        ProviderDescriptor(name: "vpc-b", residency: .vpc),
        ProviderDescriptor(name: "external-gpt", residency: .external),
    ]

    static let yaml: String = {
        var text = """
            version: 1
            tags:
              pii: {description: personal data, detectors: [credit-card, us-ssn, iban]}
              card: {description: card data}
            rules:
              - name: pii-stays-inside
                when: {tags: {any: [pii]}}
                allow: {residency: [on-prem, vpc]}
              - name: card-stays-inside
                when: {tags: {any: [card]}}
                allow: {residency: [on-prem, vpc]}

            """
        for mask in 0..<16 {
            let names = providers.indices.filter { mask & (1 << $0) != 0 }.map { providers[$0].name }
            let list = names.isEmpty ? "no-such-provider" : names.joined(separator: ", ")
            text += "  - name: subset-\(mask)\n    when: {users: [mask-\(mask)]}\n    allow: {providers: [\(list)]}\n"
        }
        return text
    }()

    static let policy: PolicySet = {
        do {
            return try PolicySet.parse(files: [(name: "routing-test.yaml", contents: yaml)])
        } catch {
            fatalError("the routing test policy does not load: \(error)")
        }
    }()

    /// The policy's decision for a conversation whose user may use exactly `allowed`.
    static func decision(allowed: [String], tags: Set<String> = [], requested: String? = nil) -> Decision {
        let mask = providers.indices.reduce(0) { allowed.contains(providers[$1].name) ? $0 | (1 << $1) : $0 }
        return evaluate(
            policy,
            DecisionRequest(tags: tags, user: "mask-\(mask)", requestedProvider: requested, providers: providers))
    }
}

/// A value shared between test tasks, behind a `Mutex` (copyable handle, so closures can capture it).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
    var value: Value { mutex.withLock { $0 } }
}
