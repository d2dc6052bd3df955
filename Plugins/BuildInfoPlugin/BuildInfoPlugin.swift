import Foundation
import PackagePlugin

/// Generates the build-info constants of the target it is applied to (`PinBuildInfo`) from the
/// `VERSION` file at the package root, the git commit and date, and the Swift compiler's version,
/// by running `scripts/build-info.sh`. A build command, not a prebuild one: it runs again only when
/// one of its inputs changed (`VERSION`, the script, git's `HEAD` and the ref it names, the
/// compiler), so an unchanged tree rebuilds nothing.
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let root = context.package.directoryURL
        let script = root.appending(path: "scripts/build-info.sh")
        let output = context.pluginWorkDirectoryURL.appending(path: "GeneratedBuildInfo.swift")
        let compiler = try? context.tool(named: "swiftc").url
        var inputs = [root.appending(path: "VERSION"), script] + GitFiles.watched(in: root)
        if let compiler { inputs.append(compiler) }
        // The overrides scripts/build-info.sh reads before git (a build without .git, e.g. a container's).
        var environment: [String: String] = [:]
        for name in ["SOURCE_DATE_EPOCH", "PINLEASE_COMMIT"] {
            if let value = ProcessInfo.processInfo.environment[name] { environment[name] = value }
        }
        return [
            .buildCommand(
                displayName: "Generating the build info from VERSION and git",
                executable: URL(filePath: "/bin/sh"),
                arguments: [script.path, root.path, output.path, compiler?.path ?? "swiftc"],
                environment: environment, inputFiles: inputs, outputFiles: [output])
        ]
    }
}

/// The files of a git checkout whose change means another commit is checked out.
enum GitFiles {
    /// `HEAD`, the branch file it names and `packed-refs`, those that exist; none without `.git`.
    /// A worktree's `.git` is a file naming its git directory, whose `commondir` holds the refs.
    static func watched(in root: URL) -> [URL] {
        let dotGit = root.appending(path: ".git")
        var gitDirectory = dotGit
        if let link = try? String(contentsOf: dotGit, encoding: .utf8), link.hasPrefix("gitdir:") {
            let path = link.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespacesAndNewlines)
            gitDirectory = path.hasPrefix("/") ? URL(filePath: path) : root.appending(path: path)
        }
        var common = gitDirectory
        if let relative = try? String(contentsOf: gitDirectory.appending(path: "commondir"), encoding: .utf8) {
            let path = relative.trimmingCharacters(in: .whitespacesAndNewlines)
            common = path.hasPrefix("/") ? URL(filePath: path) : gitDirectory.appending(path: path)
        }
        let head = gitDirectory.appending(path: "HEAD")
        var files = [head, common.appending(path: "packed-refs")]
        if let text = try? String(contentsOf: head, encoding: .utf8), text.hasPrefix("ref:") {
            let ref = text.dropFirst("ref:".count).trimmingCharacters(in: .whitespacesAndNewlines)
            files.append(common.appending(path: ref))
        }
        return files.filter { FileManager.default.fileExists(atPath: $0.path) }
    }
}
