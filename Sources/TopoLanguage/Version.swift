/// topo's version: `topo --version`, the man page's footer. The one place it is written.
public let topoVersion = "0.2.0-dev"
