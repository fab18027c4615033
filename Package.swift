// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "TrialGate",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "trialgate", targets: ["trialgate"]),
        .library(name: "TrialGateCore", targets: ["TrialGateCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // The system SQLite (Debian: libsqlite3-dev).
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // Pure domain: events, candidate state, policies, evaluation, decisions, canonical JSON.
        .target(name: "TrialGateCore", dependencies: [.product(name: "Yams", package: "Yams")]),
        // Hashing, the hash chain, Ed25519 keys and decision signatures.
        .target(name: "TrialGateAudit", dependencies: [
            "TrialGateCore", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The append-only event store: its rules over one protocol (LogDatabase), on SQLite (the embedded default) or
        // PostgreSQL (postgres-nio).
        .target(name: "TrialGateStore", dependencies: ["TrialGateCore", "TrialGateAudit", "CSQLite",
                                                      .product(name: "PostgresNIO", package: "postgres-nio"),
                                                      .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                                                      .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                                                      .product(name: "Logging", package: "swift-log")]),
        // The command vocabulary and the one dispatcher behind the CLI, `exec` and the socket.
        .target(name: "TrialGateService", dependencies: ["TrialGateCore", "TrialGateAudit", "TrialGateStore", .product(name: "Crypto", package: "swift-crypto"),
                                                     .product(name: "Logging", package: "swift-log")]),
        // The enrollment policies shipped in Policies/, bundled as resources for the demo and tests.
        .target(name: "TrialGatePolicies", path: "Policies",
                resources: [.copy("sanet-ep.yaml"), .copy("sanet-ep.cases.yaml"), .copy("sanet-p.yaml"), .copy("sanet-p.cases.yaml"),
                            .copy("radiomics-substudy.yaml"), .copy("radiomics-substudy.cases.yaml"), .copy("radiomics-substudy-2.yaml"),
                            .copy("radiomics-substudy-2.cases.yaml")]),
        // The illustrative radiomics model shipped in Models/ (synthetic data), bundled for the demo and tests.
        .target(name: "TrialGateModels", path: "Models", exclude: ["README.md"],
                resources: [.copy("net-radiomics-lr-1.0.0.card.json"), .copy("net-radiomics-lr-1.0.0.model.json"), .copy("pyradiomics-ct.yaml"),
                            .copy("demo-features.json")]),
        // The line-protocol server: SwiftNIO sockets, authentication, roles, group commit, subscriptions.
        .target(name: "TrialGateServer", dependencies: [
            "TrialGateService", "TrialGateCore", "TrialGateStore", "TrialGateAudit",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // A witness of other logs' checkpoints (C2SP tlog-witness over HTTP): its own key and state, no trial's store.
        .target(name: "TrialGateWitness", dependencies: [
            "TrialGateAudit", "TrialGateCore", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "trialgate", dependencies: [
            "TrialGateService", "TrialGatePolicies", "TrialGateModels", "TrialGateServer", "TrialGateWitness", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // What the fuzzers check for each input (shared by libFuzzer and the generator tests), and the fuzzer's
        // entry point (scripts/fuzz.sh builds it with -sanitize=fuzzer; a plain build replays saved inputs).
        .target(name: "TrialGateFuzzTargets", dependencies: ["TrialGateCore", "TrialGateAudit", "TrialGateStore", "TrialGateService", "TrialGatePolicies",
                                                           "TrialGateServer", .product(name: "Logging", package: "swift-log")],
                path: "Fuzz/TrialGateFuzzTargets"),
        .target(name: "CFuzzDriver", path: "Fuzz/CFuzzDriver"),
        .executableTarget(name: "trialgate-fuzz", dependencies: ["TrialGateFuzzTargets", "CFuzzDriver"], path: "Fuzz/trialgate-fuzz"),
        .executableTarget(name: "trialgate-bench", dependencies: ["TrialGateService", "TrialGatePolicies", "TrialGateServer", "CSQLite", .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "Benchmarks/trialgate-bench"),
        .testTarget(name: "TrialGateTests", dependencies: ["TrialGateCore", "TrialGateAudit", "TrialGateStore", "TrialGateService", "TrialGatePolicies", "TrialGateModels", "TrialGateWitness", "TrialGateServer", "TrialGateFuzzTargets",
                                   .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                                   .product(name: "Logging", package: "swift-log"),
                                   // NIOAsyncTestingChannel: a connection's handler driven without a socket, on a clock moved by hand.
                                   .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOCore", package: "swift-nio"),
                                   .product(name: "NIOConcurrencyHelpers", package: "swift-nio")],
                    resources: [.copy("Fixtures")]),
    ]
)
