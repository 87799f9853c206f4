// swift-tools-version:6.0
import PackageDescription

let v5: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "topo",
    products: [
        .executable(name: "topo", targets: ["topo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The language: source → tokens → AST → declarations → topology → plan. Pure values, no Glibc.
        .target(name: "TopoLanguage", swiftSettings: v5),
        // The syscalls Glibc does not expose to Swift (setns, unshare, gettid).
        .target(name: "CNetShim"),
        // GNU readline, from the system (libreadline-dev).
        .systemLibrary(name: "CReadline", providers: [.apt(["libreadline-dev"])]),
        // A pure-Swift rtnetlink client. Knows nothing of the language.
        .target(name: "Netlink", dependencies: ["CNetShim"], swiftSettings: v5),
        // Runs a plan against the kernel: diff, apply, roll back, destroy, show.
        .target(name: "TopoKernel", dependencies: ["TopoLanguage", "Netlink", "CNetShim"], swiftSettings: v5),
        // The executable: thin subcommands over the libraries.
        .executableTarget(
            name: "topo",
            dependencies: [
                "TopoLanguage", "TopoKernel", "CReadline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: v5),
        .testTarget(name: "TopoLanguageTests", dependencies: ["TopoLanguage"], swiftSettings: v5),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "CNetShim"], swiftSettings: v5),
        .testTarget(name: "TopoKernelTests", dependencies: ["TopoKernel", "TopoLanguage"], exclude: ["Fixtures"],
                    swiftSettings: v5),
        // Drives the built `topo` binary (CLI, kernel sandboxes, REPL through a pty).
        .testTarget(name: "TopoCLITests", dependencies: ["topo", "TopoLanguage"], exclude: ["Fixtures"],
                    swiftSettings: v5),
    ]
)
