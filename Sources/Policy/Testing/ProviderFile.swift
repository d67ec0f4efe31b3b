// Reads provider names, residency classes and regions from a YAML file, so `policy check` and
// `policy test` can judge rules against the real registry. The server configuration (owned by
// Routing) carries more per provider (endpoint, model, pricing); only the keys the policy needs are
// read here and the rest is left to Routing's own strict loader.
import Yams

public enum ProviderFile {
    /// Parses a `providers:` list (or mapping of name → entry) at the top level of `contents`.
    public static func parse(_ contents: String, file: String) throws(PolicyError) -> [ProviderDescriptor] {
        var reader = NodeReader(file: file)
        let root = try PolicyFileParser.compose(contents, file: file)
        guard let root, case .mapping(let map) = root,
            let providersNode = map.first(where: { $0.key.string == "providers" })?.value
        else {
            throw PolicyError.load([
                PolicyIssue(
                    file: file, line: root?.mark?.line ?? 0, column: root?.mark?.column ?? 0, code: .missingKey,
                    message: "no `providers:` section", hint: "list providers with `name` and `residency`")
            ])
        }
        var result: [ProviderDescriptor] = []
        func entry(_ node: Node, name given: (String, Mark?)?) {
            guard case .mapping(let fields) = node else {
                reader.report(
                    node.mark, .wrongType, "a provider must be a mapping", hint: "give it `name:` and `residency:`")
                return
            }
            func value(_ key: String) -> Node? { fields.first { $0.key.string == key }?.value }
            let nameNode = value("name")
            guard let name = given?.0 ?? nameNode.flatMap({ reader.identifier($0, what: "provider name") }) else {
                if nameNode == nil {
                    reader.report(node.mark, .missingKey, "provider without `name`", hint: "add `name:`")
                }
                return
            }
            guard let residencyNode = value("residency") else {
                reader.report(
                    node.mark, .missingKey, "provider '\(name)' has no `residency`", hint: "on-prem, vpc or external")
                return
            }
            guard let text = reader.string(residencyNode, what: "residency") else { return }
            guard let residency = Residency(rawValue: text) else {
                reader.report(
                    residencyNode.mark, .badValue, "unknown residency class '\(text.prefix(40))'",
                    hint: NodeReader.suggestion(for: text, among: Residency.allCases.map(\.rawValue)))
                return
            }
            if result.contains(where: { $0.name == name }) {
                reader.report(node.mark, .duplicateName, "provider '\(name)' is listed twice", hint: "remove one")
                return
            }
            let region = value("region").flatMap { reader.string($0, what: "region") }
            result.append(ProviderDescriptor(name: name, residency: residency, region: region))
        }
        switch providersNode {
        case .sequence(let items):
            for item in items { entry(item, name: nil) }
        case .mapping(let named):
            for (key, value) in named {
                if let name = reader.identifier(key, what: "provider name") { entry(value, name: (name, key.mark)) }
            }
        default:
            reader.report(
                providersNode.mark, .wrongType, "`providers` must be a list", hint: "one `- name: ...` per provider")
        }
        guard reader.issues.isEmpty else { throw PolicyError.load(reader.issues) }
        return result
    }
}
