import ArgumentParser
import TopoLanguage

extension GraphFormat: ExpressibleByArgument {}

struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Print the topology as a graph: Graphviz dot (default) or a Mermaid flowchart. Needs no privileges.",
        discussion: "Namespaces are nodes (clusters when they hold bridges or other devices), bridges and "
            + "other devices are nodes, veth pairs are edges labelled at each end with the interface "
            + "name and its addresses. Render with `topo graph FILE | dot -Tsvg > lab.svg`, or paste the "
            + "Mermaid text into a Markdown ```mermaid block.")
    @OptionGroup var script: ScriptOptions
    @Option(name: .long, help: "dot or mermaid.")
    var format: GraphFormat = .dot

    func run() throws {
        let result = try script.compileOrExit()
        guard let topology = result.topology else { throw Exiting(code: Exit.script) }
        writeOut(renderGraph(topology, as: format, title: result.file.name))
    }
}
