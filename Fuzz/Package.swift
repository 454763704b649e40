// swift-tools-version: 6.0
import PackageDescription

// libFuzzer harness for HTTPRequestParser; run it with scripts/fuzz-parser.sh. A package of its
// own so the main build never sees sanitizer flags. It compiles the parser's sources through the
// symlink Sources/HTTPRequestParserFuzz/Parser -> ../../../Sources/HTTPServer/Parser instead of
// depending on the main package, whose HTTPServer target also pulls in Reactor and the C shims;
// this works because the parser files import HTTPTypes only. Linked with lld: gold warns about
// an ASan symbol it cannot export.
let package = Package(
    name: "SwitchyardFuzz",
    dependencies: [
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0")
    ],
    targets: [
        .target(name: "CFuzzerDriver"),
        .executableTarget(
            name: "HTTPRequestParserFuzz",
            dependencies: ["CFuzzerDriver", .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: [.unsafeFlags(["-sanitize=fuzzer,address", "-parse-as-library"])],
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address", "-use-ld=lld"])])
    ],
    swiftLanguageModes: [.v6]
)
