namespace SoftmaxGen;

/// <summary>
/// The sizes of one attention call. Q, O, dO and dQ are [Batch, Heads, QueryLength, HeadDim]; K, V, dK and dV are
/// [Batch, KeyValueHeads, KeyLength, HeadDim]; the log-sum-exp is [Batch, Heads, QueryLength]. Heads is a multiple of
/// KeyValueHeads: query head h reads key/value head h / (Heads / KeyValueHeads) (grouped-query attention; equal counts
/// for multi-head attention, one key/value head for multi-query attention).
/// </summary>
/// <param name="Batch">The number of independent sequences.</param>
/// <param name="Heads">Query heads per sequence.</param>
/// <param name="KeyValueHeads">Key/value heads per sequence; divides <paramref name="Heads"/>.</param>
/// <param name="QueryLength">Queries per head.</param>
/// <param name="KeyLength">Keys (and values) per key/value head.</param>
public readonly record struct AttentionShape(int Batch, int Heads, int KeyValueHeads, int QueryLength, int KeyLength);
