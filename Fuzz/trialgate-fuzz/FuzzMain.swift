import Foundation
import TrialGateFuzzTargets
#if TRIALGATE_LIBFUZZER
import CFuzzDriver
#endif

// Two builds of one program:
// - with `-D TRIALGATE_LIBFUZZER -sanitize=fuzzer,address` (scripts/fuzz.sh), libFuzzer drives the target named
//   by TRIALGATE_FUZZ_TARGET with coverage feedback; the arguments are libFuzzer's (corpus dirs, -max_total_time…);
// - without, `trialgate-fuzz TARGET FILE|DIR…` runs saved inputs (a corpus, a crash artifact) through the same code.

private func target(named name: String?) -> FuzzTarget {
    guard let name, let t = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("trialgate-fuzz: name a target (\(names)), got \(name ?? "none")\n".utf8))
        exit(2)
    }
    return t
}

#if TRIALGATE_LIBFUZZER
nonisolated(unsafe) private var selected: (target: FuzzTarget, context: FuzzContext)?

/// libFuzzer's per-input entry (its own `main` or `LLVMFuzzerRunDriver` calls it, whichever the link keeps).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if selected == nil {
        selected = (target(named: ProcessInfo.processInfo.environment["TRIALGATE_FUZZ_TARGET"]), try! FuzzContext())
    }
    let (t, context) = selected!
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let problem = t.run(input, context: context) { fatalError("\(t.rawValue): \(problem)") }
    return 0
}
#endif

@main
struct FuzzMain {
    static func main() throws {
        #if TRIALGATE_LIBFUZZER
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzzOneInput($0, $1) })
        #else
        try replay(Array(CommandLine.arguments.dropFirst()))
        #endif
    }

    static func replay(_ args: [String]) throws {
        let t = target(named: args.first)
        let context = try FuzzContext()
        var files: [String] = []
        for path in args.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("trialgate-fuzz: no such file or directory: \(path)\n".utf8))
                exit(2)
            }
            files += isDirectory.boolValue
                ? try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { path + "/" + $0 } : [path]
        }
        var problems = 0
        for file in files {
            if let problem = t.run(Array(try Data(contentsOf: URL(fileURLWithPath: file))), context: context) {
                print("\(file): \(problem)")
                problems += 1
            }
        }
        print("\(t.rawValue): \(files.count) inputs, \(problems) problems")
        exit(problems == 0 ? 0 : 1)
    }
}
