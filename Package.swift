// swift-tools-version: 6.0
import PackageDescription

// Import direction (ARCHITECTURE §3): C shims ← Reactor ← HTTPServer; GatewayCore is
// Foundation-only and everything the middleware sees; Upstream and State do the I/O;
// Gateway assembles it all; the executables are thin.
let package = Package(
    name: "Switchyard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "switchyard", targets: ["switchyard"]),
        .executable(name: "mock-llm", targets: ["mock-llm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // System-library shims.
        .target(name: "CLinux", cSettings: [.define("_GNU_SOURCE")]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // No pkgConfig: hiredis.pc adds -D_FILE_OFFSET_BITS=64, which SwiftPM warns about; the
        // headers are in the default include path and the module map links the library.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Appending text and decimals to byte buffers: shared by the wire writers and GatewayCore.
        .target(name: "Bytes"),
        .target(name: "Reactor", dependencies: ["CLinux", "Bytes"]),
        .target(
            name: "HTTPServer",
            dependencies: ["CLinux", "Reactor", .product(name: "HTTPTypes", package: "swift-http-types")]),
        .target(
            name: "GatewayCore",
            dependencies: ["Bytes", .product(name: "HTTPTypes", package: "swift-http-types")]),
        .target(name: "MockProvider", dependencies: ["GatewayCore"]),
        .target(
            name: "Upstream",
            dependencies: ["Reactor", "CCurl", "CZlib", "GatewayCore", "MockProvider"]),
        .target(name: "State", dependencies: ["Reactor", "CHiredis", "GatewayCore"]),
        .target(
            name: "Middleware",
            dependencies: ["GatewayCore", "Bytes", .product(name: "HTTPTypes", package: "swift-http-types")], path: "Middleware"),
        .target(
            name: "Gateway",
            dependencies: [
                "Bytes", "Reactor", "HTTPServer", "GatewayCore", "Upstream", "State", "Middleware",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "switchyard",
            dependencies: [
                "Gateway", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(name: "state-bench", dependencies: ["State", "Reactor", "GatewayCore"]),
        .target(name: "MockLLMServer", dependencies: ["Reactor", "HTTPServer", "MockProvider"]),
        .executableTarget(
            name: "mock-llm",
            dependencies: [
                "Reactor", "HTTPServer", "MockProvider", "MockLLMServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .target(name: "TestSupport", dependencies: ["CLinux", "HTTPServer", "Reactor"], path: "Tests/TestSupport"),
        .testTarget(name: "BytesTests", dependencies: ["Bytes"]),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor", "TestSupport"]),
        .testTarget(name: "StateTests", dependencies: ["State", "Reactor", "GatewayCore", "Middleware", "TestSupport"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "Reactor", "TestSupport"]),
        .testTarget(
            name: "GatewayCoreTests", dependencies: ["GatewayCore", .product(name: "HTTPTypes", package: "swift-http-types")]),
        .testTarget(name: "MockProviderTests", dependencies: ["MockProvider", "GatewayCore"]),
        .testTarget(
            name: "MiddlewareTests",
            dependencies: [
                "Middleware", "GatewayCore", "State", "Reactor", "TestSupport", .product(name: "HTTPTypes", package: "swift-http-types"),
            ]),
        .testTarget(
            name: "UpstreamTests", dependencies: ["Upstream", "Reactor", "GatewayCore", "HTTPServer", "MockProvider", "TestSupport"]),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "GatewayCore", "Middleware", "State", "Reactor", "HTTPServer", "MockProvider", "MockLLMServer", "TestSupport",
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)

// Nonisolated async functions run on their caller's executor instead of hopping to the generic
// one at every call (SE-0461). Every gateway task runs on its worker's reactor, so each such hop
// only re-checked the task's executor preference under its status lock: about 10 per request.
for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
}

// The I/O layers' per-request paths made about 70 dynamic exclusivity checks per proxied request
// (swift_beginAccess with its thread-local access set: about 11 % of the proxy's user-space
// instructions), nearly all on reactor-confined objects that no other thread touches. In release
// builds these targets rely on the static checks only; debug builds (and so the tests) keep the
// dynamic ones, which is where an overlapping access would show. State and Middleware joined
// them for the same reason: the memory store's keyspace (under its lock) made about 120 checks
// per rate-limited request, the Redis connection and the settlement queue a dozen.
for target in package.targets where ["Reactor", "HTTPServer", "Upstream", "MockLLMServer", "State", "Middleware"].contains(target.name) {
    target.swiftSettings = (target.swiftSettings ?? [])
        + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
}
