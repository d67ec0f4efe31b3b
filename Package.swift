// swift-tools-version:6.1
//
// Enclave: a privacy-first chat server with an in-process LLM engine.
// The targets mirror the architecture in ARCHITECTURE.md; arrows point one way:
//
//   C libraries ─► GGUF ─► Inference ─┐
//               └► EnclaveCrypto ─► Storage ─┼─► ChatCore ─► ChatServer ─► enclave
//                  Policy ─► Routing ─┤                     EnclaveClient ─┘
//                  EnclaveCrypto ─► Audit ───┘
import PackageDescription

/// Swift settings every target shares: Swift 6 mode plus the upcoming features that keep
/// imports and existentials explicit.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// The numeric targets are compiled optimised even in a debug build: a debug forward pass runs
/// 10-100x slower, which would make the engine's tests (over the real model) take too long.
/// This is a deliberate, documented exception; everything else builds with the configuration.
let numericSwiftSettings: [SwiftSetting] = strictSettings + [.unsafeFlags(["-O", "-enforce-exclusivity=unchecked"])]
/// The GGUF reader parses files from outside (downloads): optimised like the engine, but with Swift's
/// exclusivity checking kept on, so an overlapping access caused by a malformed file traps instead of
/// corrupting memory.
let parserSwiftSettings: [SwiftSetting] = strictSettings + [.unsafeFlags(["-O"])]

let package = Package(
    name: "Enclave",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "enclave", targets: ["enclave"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // Metrics: the modules that own an event record it through swift-metrics; only `enclave serve`
        // bootstraps the Prometheus backend that its health listener exposes at /metrics.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Test-only: property-based tests of the detectors (PolicyTests).
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // MARK: System C libraries, each imported by exactly one Swift target.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // MARK: Our own SIMD kernels (C, AVX2/FMA chosen at run time, portable fallback).
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno"])]
        ),

        // MARK: Engine
        .target(name: "GGUF", swiftSettings: parserSwiftSettings),
        .target(
            name: "Inference",
            dependencies: ["GGUF", "CKernels", "COpenBLAS", .product(name: "Metrics", package: "swift-metrics")],
            swiftSettings: numericSwiftSettings
        ),

        // MARK: Security and storage
        // EnclaveCrypto and Storage are optimised even in debug builds: every message is sealed and
        // every history row opened through them, and `enclave bench store` measures their cost.
        .target(
            name: "EnclaveCrypto", dependencies: ["COpenSSL"], swiftSettings: strictSettings + [.unsafeFlags(["-O"])]),
        .target(
            name: "Storage", dependencies: ["CSQLite", "EnclaveCrypto"],
            swiftSettings: strictSettings + [.unsafeFlags(["-O"])]),
        // Audit is optimised even in debug builds: `audit verify` and the tamper-matrix tests parse and
        // re-encode every record of a log (10,000s of records), which runs ~20x slower unoptimised.
        .target(
            name: "Audit", dependencies: ["EnclaveCrypto", .product(name: "Metrics", package: "swift-metrics")],
            swiftSettings: strictSettings + [.unsafeFlags(["-O"])]),

        // MARK: Policy and routing
        // Policy runs its detectors on every message and its tests fuzz them a million times, so it is
        // compiled optimised like the numeric targets (same documented exception).
        .target(
            name: "Policy",
            dependencies: ["EnclaveCrypto", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings + [.unsafeFlags(["-O", "-wmo", "-num-threads", "2"])]
        ),
        // The strict YAML reader every configuration file goes through (the server's, a system prompt's): each
        // error names file:line:column.
        .target(
            name: "EnclaveConfiguration", dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings),
        .target(
            name: "Routing",
            dependencies: [
                "EnclaveConfiguration", "Inference", "Policy", "EnclaveCrypto",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: Use cases and transport
        .target(
            name: "ChatCore",
            dependencies: [
                "Storage", "Policy", "Routing", "Audit", .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ChatServer",
            dependencies: [
                "ChatCore", "Storage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),

        // The client side of the line protocol (no server code): the blocking line client the benchmark
        // and the tests drive, `enclave chat`'s session and its line editor.
        .target(
            name: "EnclaveClient",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        // MARK: Evaluation: gold-set runs, crossover and canary reports (over ChatCore's send path)
        .target(
            name: "Evaluation",
            dependencies: ["ChatCore", "Routing", "Audit", "Storage", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings),

        // MARK: The command-line tool
        .executableTarget(
            name: "enclave",
            dependencies: [
                "GGUF", "Inference", "EnclaveCrypto", "Storage", "Policy", "Audit", "EnclaveConfiguration", "Routing",
                "ChatCore", "ChatServer", "EnclaveClient",
                "Evaluation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: Tests
        // The GGUF writer the tests make tiny models and hostile files with, not shipped.
        .target(
            name: "GGUFTestSupport", dependencies: ["GGUF"], path: "Tests/GGUFSupport", swiftSettings: strictSettings),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "GGUFTestSupport"], swiftSettings: numericSwiftSettings),
        .testTarget(
            name: "InferenceTests", dependencies: ["Inference", "GGUF", "GGUFTestSupport", "EnclaveTestSupport"], exclude: ["Fixtures"],
            swiftSettings: numericSwiftSettings),
        .testTarget(name: "EnclaveCryptoTests", dependencies: ["EnclaveCrypto"], swiftSettings: strictSettings),
        .testTarget(
            name: "StorageTests", dependencies: ["Storage", "EnclaveCrypto", "EnclaveTestSupport"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "PolicyTests",
            dependencies: ["Policy", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: strictSettings),
        .testTarget(
            name: "AuditTests", dependencies: ["Audit", "EnclaveCrypto", "EnclaveTestSupport"], exclude: ["Fixtures"],
            swiftSettings: strictSettings),
        // Test helpers shared by test targets, not shipped: the recording OpenAI-compatible server, the seeded
        // generator, and whether the test set-up is required (TestSetUp).
        .target(
            name: "EnclaveTestSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/Support", swiftSettings: strictSettings),
        .testTarget(
            name: "RoutingTests",
            dependencies: [
                "EnclaveConfiguration", "Routing", "Policy", "Inference", "EnclaveTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // ChatCore over a real Store and AuditLog in a temporary directory, a write-failing wrapper of the log,
        // and scripted providers; not shipped.
        .target(
            name: "ChatCoreTestSupport",
            dependencies: ["ChatCore", "Routing", "Policy", "Inference", "Storage", "Audit", "EnclaveCrypto"],
            path: "Tests/ChatCoreSupport",
            swiftSettings: strictSettings),
        .testTarget(
            name: "ChatCoreTests",
            dependencies: [
                "ChatCore", "ChatCoreTestSupport", "Storage", "Policy", "Routing", "Audit", "EnclaveTestSupport",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ChatServerTests",
            dependencies: [
                "ChatServer", "ChatCore", "ChatCoreTestSupport", "EnclaveClient", "EnclaveTestSupport", "Routing",
                "Storage", "Audit", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EvaluationTests",
            dependencies: [
                "Evaluation", "ChatCore", "ChatCoreTestSupport", "Storage", "Policy", "EnclaveConfiguration", "Routing",
                "Audit",
                "EnclaveCrypto", "EnclaveTestSupport",
            ],
            exclude: ["Fixtures"], swiftSettings: strictSettings),
        // Runs the built `enclave` executable as a user would.
        .testTarget(
            name: "EnclaveCLITests",
            dependencies: ["enclave", "EnclaveClient", "EnclaveTestSupport", "GGUFTestSupport"],
            swiftSettings: strictSettings),
    ]
)
