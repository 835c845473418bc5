//! Restoring from checkpoints: choosing the newest usable one, reading and routing its parts
//! to their owners, and installing them.

use super::*;

/// The first field of manifests and parts, read before the rest so a checkpoint of another
/// format is named as such.
#[derive(Deserialize)]
struct Format {
    format: u32,
}

/// Reads a checkpoint file (a manifest or a part): its CRC, then its format, then the rest.
fn read_checked<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = codec::read_verified(path)?;
    let corrupt = |reason: String| Error::CorruptCheckpoint {
        path: path.to_path_buf(),
        reason,
    };
    let format = bincode::deserialize::<Format>(&bytes)
        .map_err(|e| corrupt(format!("undecodable ({e})")))?
        .format;
    if format != FORMAT {
        return Err(corrupt(format!(
            "checkpoint format {format} (this Spate reads format {FORMAT})"
        )));
    }
    bincode::deserialize(&bytes).map_err(|e| corrupt(format!("undecodable ({e})")))
}

/// Reads and checks a manifest: CRC, format, fingerprint.
fn read_manifest(path: &Path, dir: &Path, expected: u64) -> Result<Manifest> {
    let manifest: Manifest = read_checked(path)?;
    if manifest.fingerprint != expected {
        return Err(Error::IncompatibleCheckpoint {
            path: dir.to_path_buf(),
            expected,
            found: manifest.fingerprint,
        });
    }
    Ok(manifest)
}

/// Reads and checks worker `k`'s part of a checkpoint, against the id its manifest gives
/// it if known.
fn read_part(path: &Path, expected_id: Option<u64>, fingerprint: u64, t: u64) -> Result<Part> {
    let part: Part = read_checked(path)?;
    let corrupt = |reason: &str| Error::CorruptCheckpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    if part.fingerprint != fingerprint || part.batch_time != t {
        return Err(corrupt("belongs to another checkpoint"));
    }
    if expected_id.is_some_and(|id| id != part.id) {
        return Err(corrupt(
            "does not match the checkpoint's manifest (a part of another write)",
        ));
    }
    Ok(part)
}

/// The parts of checkpoint `t` (written by `old` workers) that worker `me` of `new` reads.
fn parts_to_read(me: usize, new: usize, old: usize) -> impl Iterator<Item = usize> {
    (0..old).filter(move |k| owner_of(*k, new) == me)
}

impl StreamingContext {
    /// Builds the stream graph with `build` and, if `dir` holds a checkpoint of the same
    /// graph, restores it: state, window panes, managed states and source offsets, so the
    /// stream continues after the checkpointed batch. Checkpoints are then written to `dir`
    /// as `config` says.
    ///
    /// Unlike Spark, which deserializes the graph from the checkpoint, the graph is always
    /// rebuilt by `build` (closures cannot be serialized); the checkpoint must have been
    /// written by a program building the same graph, which a fingerprint checks
    /// ([`Error::IncompatibleCheckpoint`] otherwise). With several workers, every worker
    /// calls this, and they restore together.
    pub fn get_or_create(
        dir: impl Into<PathBuf>,
        config: CheckpointConfig,
        build: impl FnOnce() -> Result<StreamingContext>,
    ) -> Result<StreamingContext> {
        let ssc = build()?;
        ssc.enable_checkpoints(dir, config)?;
        ssc.recover()?;
        Ok(ssc)
    }

    /// Writes checkpoints to `dir` while running (without restoring anything).
    pub fn enable_checkpoints(
        &self,
        dir: impl Into<PathBuf>,
        config: CheckpointConfig,
    ) -> Result<()> {
        self.ensure_not_started("enable checkpoints")?;
        config.check()?;
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        remove_partial_writes(&dir)?;
        *lock(&self.inner.checkpointer) = Some(Checkpointer::new(dir, config));
        Ok(())
    }

    /// The batch time of the checkpoint this context was restored from, if any.
    pub fn recovered_from(&self) -> Option<BatchTime> {
        *lock(&self.inner.recovered_from)
    }

    fn recover(&self) -> Result<()> {
        let dir = match lock(&self.inner.checkpointer).as_ref() {
            Some(c) => c.dir.clone(),
            None => {
                return Err(Error::NoCheckpointDir {
                    operation: "recover",
                });
            }
        };
        let inner = &self.inner;
        let env = &inner.sc.env;
        let (me, workers) = (env.worker(), env.workers());
        let expected = fingerprint(inner);
        let listing = list(&dir)?;
        let started = std::time::Instant::now();
        // Which checkpoints this worker can use: the leader needs a valid manifest, every
        // worker the parts it reads. A checkpoint is a batch time and the number of workers
        // that wrote it.
        let usable = usable_checkpoints(&dir, &listing, me, workers, expected);
        // With the leader's count of manifests, so every worker takes the same decision.
        let (chosen, manifests): (Option<(u64, usize)>, usize) = if workers == 1 {
            (usable?.into_iter().next(), listing.manifests.len())
        } else {
            let mine =
                usable.and_then(|u| encode(&(u, listing.manifests.len()), "usable checkpoints"));
            let all: Vec<(Vec<(u64, usize)>, usize)> =
                round(env, Round::Restore, mine.map(|m| vec![m; workers]))?
                    .iter()
                    .map(|b| decode(b, "usable checkpoints"))
                    .collect::<Result<_>>()?;
            // The newest checkpoint the leader has a manifest for and every worker can read.
            let chosen = all[0]
                .0
                .iter()
                .copied()
                .find(|c| all.iter().all(|(u, _)| u.contains(c)));
            (chosen, all[0].1)
        };
        let Some((t, old)) = chosen else {
            if manifests > 0 {
                // Starting over would silently drop the state those checkpoints hold.
                return Err(Error::CorruptCheckpoint {
                    path: dir.clone(),
                    reason: format!(
                        "none of its {manifests} checkpoints can be restored (see the warnings \
                         above: damaged, incomplete, or written by another Spate version); use \
                         a fresh checkpoint directory"
                    ),
                });
            }
            tracing::info!(dir = %dir.display(), "no checkpoint found; starting fresh");
            return Ok(());
        };
        // Every worker reads its parts and sends each partition to its owner; the leader
        // sends the manifest along.
        let loaded = self.load_parts(&dir, &listing, (t, old), expected);
        let (manifest, routed) = if workers == 1 {
            let (manifest, parts) = loaded?;
            (
                manifest.ok_or_else(|| Error::internal("no manifest loaded"))?,
                parts,
            )
        } else {
            let outgoing = loaded.and_then(|(manifest, parts)| {
                let manifest = manifest
                    .map(|m| encode(&m, "checkpoint manifest"))
                    .transpose()?;
                let mut by_owner: Vec<Routed> = vec![Routed::default(); workers];
                for (owner, item) in parts.into_items(workers) {
                    by_owner[owner].push(item);
                }
                by_owner
                    .into_iter()
                    .map(|r| encode(&(&manifest, r), "restored partitions"))
                    .collect()
            });
            let received = round(env, Round::Restore, outgoing)?;
            let mut manifest = None;
            let mut mine = Routed::default();
            for (from, bytes) in received.iter().enumerate() {
                let (m, routed): (Option<Vec<u8>>, Routed) = decode(bytes, "restored partitions")?;
                if from == 0 {
                    manifest = m;
                }
                mine.extend(routed);
            }
            let manifest = manifest
                .ok_or_else(|| Error::internal("the leader sent no manifest"))
                .and_then(|m| decode::<Manifest>(&m, "checkpoint manifest"))?;
            (manifest, mine)
        };
        self.apply(&dir, manifest, routed)?;
        tracing::info!(
            dir = %dir.display(),
            batch = t,
            restore_ms = started.elapsed().as_millis() as u64,
            "restored from checkpoint"
        );
        Ok(())
    }

    /// Reads checkpoint `t` written by `old` workers: the manifest (leader) and the parts
    /// this worker reads.
    fn load_parts(
        &self,
        dir: &Path,
        listing: &Listing,
        (t, old): (u64, usize),
        expected: u64,
    ) -> Result<(Option<Manifest>, Routed)> {
        let env = &self.inner.sc.env;
        let (me, workers) = (env.worker(), env.workers());
        let manifest = match listing.manifests.get(&t) {
            Some(path) if me == 0 => Some(read_manifest(path, dir, expected)?),
            _ => None,
        };
        let mut routed = Routed::default();
        for k in parts_to_read(me, workers, old) {
            let path = find_part(dir, listing, t, k, old)?;
            let part: Part = read_checked(path)?;
            routed.absorb(part);
        }
        Ok((manifest, routed))
    }

    /// Installs a restored checkpoint: this worker's state and pane partitions, the shared
    /// state, managed states, offsets and times.
    fn apply(&self, dir: &Path, manifest: Manifest, routed: Routed) -> Result<()> {
        let inner = &self.inner;
        if manifest.batch_ms != inner.batch_ms {
            return Err(Error::IncompatibleCheckpoint {
                path: dir.to_path_buf(),
                expected: fingerprint(inner),
                found: manifest.fingerprint,
            });
        }
        let graph = lock(&inner.graph);
        let ours = value_types(&graph);
        for (what, theirs) in &manifest.types {
            match ours.iter().find(|(w, _)| w == what) {
                Some((_, mine)) if mine == theirs => {}
                Some((_, mine)) => {
                    return Err(Error::CorruptCheckpoint {
                        path: dir.to_path_buf(),
                        reason: format!(
                            "{what} was saved as `{theirs}`, this program has `{mine}`: the \
                             program changed; use a fresh checkpoint directory"
                        ),
                    });
                }
                None => {}
            }
        }
        let stateful = |id: usize| {
            graph
                .nodes
                .iter()
                .find(|n| n.meta().id == id)
                .and_then(|n| n.stateful())
                .ok_or_else(|| Error::CorruptCheckpoint {
                    path: dir.to_path_buf(),
                    reason: format!("state for unknown operator #{id}"),
                })
        };
        for (id, parts) in routed.states {
            let parts = parts.into_iter().map(|(p, b)| (p, b.into_vec())).collect();
            stateful(id)?.restore_partitions(parts, &*inner.sc.env.runtime)?;
        }
        for (id, bytes) in &manifest.shared {
            stateful(*id)?.restore_shared(bytes)?;
        }
        for (id, panes) in routed.panes {
            if let Some(node) = graph.nodes.iter().find(|n| n.meta().id == id) {
                node.restore_panes(&inner.sc, panes.into_values().collect())?;
            }
        }
        for (name, bytes) in &manifest.managed {
            if let Some(m) = graph.managed.iter().find(|m| m.name() == name) {
                m.restore(bytes)?;
            }
        }
        if manifest.sources.len() != graph.inputs.len() {
            return Err(Error::CorruptCheckpoint {
                path: dir.to_path_buf(),
                reason: "source count differs from the graph".into(),
            });
        }
        drop(graph);
        if let (Some(state), Some(rate)) = (manifest.rate, lock(&inner.rate).as_mut()) {
            rate.restore(state);
        }
        *lock(&inner.resume_offsets) = manifest.sources;
        inner
            .shared
            .zero_ms
            .store(manifest.zero_ms, std::sync::atomic::Ordering::Relaxed);
        let at = BatchTime(manifest.batch_time);
        *lock(&inner.resume_at) = Some(at.plus_ms(inner.batch_ms));
        *lock(&inner.recovered_from) = Some(at);
        Ok(())
    }
}

/// Part `k` of the `old` parts of checkpoint `t`.
fn find_part<'a>(
    dir: &Path,
    listing: &'a Listing,
    t: u64,
    k: usize,
    old: usize,
) -> Result<&'a PathBuf> {
    listing
        .parts
        .get(&t)
        .and_then(|parts| parts.iter().find(|(kk, w, _)| *kk == k && *w == old))
        .map(|(_, _, p)| p)
        .ok_or_else(|| Error::CorruptCheckpoint {
            path: dir.to_path_buf(),
            reason: format!("part {k} of {old} of checkpoint {t} is missing"),
        })
}

/// The checkpoints worker `me` can restore, newest first, as (batch time, workers that
/// wrote it): for the leader, those with a valid manifest whose parts it reads verify; for
/// the others, those whose parts they read verify. A damaged checkpoint is logged and
/// skipped; a checkpoint of another program is an error.
fn usable_checkpoints(
    dir: &Path,
    listing: &Listing,
    me: usize,
    workers: usize,
    expected: u64,
) -> Result<Vec<(u64, usize)>> {
    let mut candidates: Vec<(u64, usize)> = Vec::new();
    if me == 0 {
        for (&t, path) in listing.manifests.iter().rev() {
            match read_manifest(path, dir, expected) {
                Ok(m) => candidates.push((t, m.parts.len())),
                Err(e @ Error::IncompatibleCheckpoint { .. }) => return Err(e),
                Err(e) => tracing::warn!("{e}; falling back to the previous checkpoint"),
            }
        }
    } else {
        for (&t, parts) in listing.parts.iter().rev() {
            let mut olds: Vec<usize> = parts.iter().map(|(_, w, _)| *w).collect();
            olds.sort_unstable();
            olds.dedup();
            candidates.extend(olds.into_iter().map(|w| (t, w)));
        }
    }
    let mut usable = Vec::new();
    for (t, old) in candidates {
        let check = || -> Result<()> {
            let ids = match listing.manifests.get(&t) {
                Some(path) if me == 0 => Some(read_manifest(path, dir, expected)?.parts),
                _ => None,
            };
            for k in parts_to_read(me, workers, old) {
                let path = find_part(dir, listing, t, k, old)?;
                let id = match &ids {
                    Some(ids) => Some(*ids.get(k).ok_or_else(|| Error::CorruptCheckpoint {
                        path: path.clone(),
                        reason: format!("its manifest names {} parts", ids.len()),
                    })?),
                    None => None,
                };
                read_part(path, id, expected, t)?;
            }
            Ok(())
        };
        match check() {
            Ok(()) => usable.push((t, old)),
            Err(e @ Error::IncompatibleCheckpoint { .. }) => return Err(e),
            Err(e) => tracing::warn!("{e}; falling back to the previous checkpoint"),
        }
    }
    Ok(usable)
}

/// Restored partitions on their way to their owners.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Routed {
    /// By stateful node: (partition, state).
    states: BTreeMap<usize, Vec<(usize, ByteBuf)>>,
    /// By node, by pane time: the pane with the partitions gathered so far.
    panes: BTreeMap<usize, BTreeMap<u64, Pane>>,
}

/// One restored partition, and the partition it is.
enum RoutedItem {
    State(usize, usize, ByteBuf),
    Pane(usize, Pane),
}

impl Routed {
    fn absorb(&mut self, part: Part) {
        for (id, parts) in part.states {
            self.states.entry(id).or_default().extend(parts);
        }
        for (id, panes) in part.panes {
            for pane in panes {
                self.add_pane(id, pane);
            }
        }
    }

    fn add_pane(&mut self, id: usize, pane: Pane) {
        let slot = self.panes.entry(id).or_default();
        match slot.get_mut(&pane.time) {
            Some(existing) => existing.parts.extend(pane.parts),
            None => {
                slot.insert(pane.time, pane);
            }
        }
    }

    fn push(&mut self, item: RoutedItem) {
        match item {
            RoutedItem::State(id, p, bytes) => {
                self.states.entry(id).or_default().push((p, bytes));
            }
            RoutedItem::Pane(id, pane) => self.add_pane(id, pane),
        }
    }

    fn extend(&mut self, other: Routed) {
        for (id, parts) in other.states {
            self.states.entry(id).or_default().extend(parts);
        }
        for (id, panes) in other.panes {
            for pane in panes.into_values() {
                self.add_pane(id, pane);
            }
        }
    }

    /// Every partition with the worker (of `workers`) that owns it.
    fn into_items(self, workers: usize) -> Vec<(usize, RoutedItem)> {
        let mut items = Vec::new();
        for (id, parts) in self.states {
            for (p, bytes) in parts {
                items.push((owner_of(p, workers), RoutedItem::State(id, p, bytes)));
            }
        }
        for (id, panes) in self.panes {
            for pane in panes.into_values() {
                for (p, bytes) in pane.parts {
                    let one = Pane {
                        time: pane.time,
                        hash_partitions: pane.hash_partitions,
                        partitions: pane.partitions,
                        parts: vec![(p, bytes)],
                    };
                    items.push((owner_of(p, workers), RoutedItem::Pane(id, one)));
                }
            }
        }
        items
    }
}
