//! Spate's sources and sinks: sockets, directories, file replay, queues, generators, text files.
