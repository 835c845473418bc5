//! Incremental graph analytics over edge streams for Spate: PageRank, components, triangles.
