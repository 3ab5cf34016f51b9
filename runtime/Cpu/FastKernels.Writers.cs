using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxGen.Runtime;

// How FastKernels write B in whole lines: across rows (StreamWriter) and across strips of lanes (PendingStrip).
internal static unsafe partial class FastKernels<T, TV, TS, TLayout>
{
    /// <summary>
    /// Writes consecutive slices of B as one stream: when streaming, every whole, aligned line with one non-temporal
    /// store, however the slices fall across lines. The last elements of a slice that do not fill a line are held
    /// (in a vector) and joined with the next slice's first ones into one line, when that slice follows in memory;
    /// otherwise, and at the two ends of a run of slices, partial lines get plain stores. A line written partly by
    /// plain stores costs a read of it from memory first, which for short rows (128 floats: one line in eight) was
    /// the larger part of the time. Without streaming everything is a plain store.
    /// Call <see cref="Next"/> with a slice's destination, then <see cref="Begin"/>, store whole vectors at
    /// <see cref="Line"/> (advancing it), <see cref="End"/> with the rest, and <see cref="Finish"/> after the last.
    /// </summary>
    private struct StreamWriter(bool stream, T* pad)
    {
        /// <summary>Where the next whole vector goes (aligned when streaming); callers advance it by whole vectors.</summary>
        public T* Line;

        private TV _tail;         // its last _held lanes are the held elements, due at Line
        private int _held;
        private T* _destination;  // the slice about to be written

        public readonly bool Streams => stream;

        /// <summary>The destination of the next slice (it is written by the next Begin/End).</summary>
        public void Next(T* destination) => _destination = destination;

        /// <summary>Starts a slice: returns how many of its first elements it has written.</summary>
        public nuint Begin(T* source, nuint length, T scale)
        {
            nuint width = (nuint)TS.Count;
            if (_held > 0 && (Line + _held != _destination || length < width))
            {
                Finish();
            }

            if (!stream)
            {
                Line = _destination;
                return 0;
            }

            if (_held == 0)
            {
                // A fresh stream: plain stores up to the first aligned line.
                Line = _destination;
                nuint head = Math.Min(Peel(_destination), length);
                for (nuint k = 0; k < head; k++)
                {
                    Line[k] = source[k] * scale;
                }

                Line += head;
                return head;
            }

            // The held elements and this slice's first ones make one line.
            var first = TS.Multiply(TS.Load(source), TS.Create(scale));
            TS.StoreAlignedNonTemporal(TS.Join(_tail, first, _held, pad), Line);
            Line += width;
            nuint filled = width - (nuint)_held;
            _held = 0;
            return filled;
        }

        /// <summary>Ends a slice of <paramref name="length"/> elements of which <paramref name="written"/> are written.</summary>
        public void End(T* source, nuint length, nuint written, T scale)
        {
            nuint count = length - written;
            if (count == 0)
            {
                return;
            }

            if (!stream || length < (nuint)TS.Count)
            {
                for (nuint k = 0; k < count; k++)
                {
                    Line[k] = source[written + k] * scale;
                }

                Line += count;
                return;
            }

            // The last whole vector of the slice holds them in its last lanes.
            _tail = TS.Multiply(TS.Load(source + length - (nuint)TS.Count), TS.Create(scale));
            _held = (int)count;
        }

        /// <summary>Writes what is held with plain stores.</summary>
        public void Finish()
        {
            if (_held == 0)
            {
                return;
            }

            TS.Store(_tail, pad);
            for (int k = 0; k < _held; k++)
            {
                Line[k] = pad[TS.Count - _held + k];
            }

            Line += _held;
            _held = 0;
        }
    }

    /// <summary>
    /// The strip of lanes written out while the next one is computed (see <see cref="ExpGatherLanes"/>): its exp,
    /// gathered in scratch rows of <see cref="Pitch"/> elements, its scales, and where its runs go: the run that the
    /// walk visits at offset o is written at <see cref="Destination"/> + o.
    /// </summary>
    private readonly struct PendingStrip(T* source, nuint pitch, T* destination, T* scale, int width, T* held, bool joinHead, bool holdTail)
    {
        public readonly T* Source = source;
        public readonly nuint Pitch = pitch;
        public readonly T* Destination = destination;
        public readonly T* Scale = scale;
        public readonly int Width = width;

        /// <summary>A vector per run: the B values that end the previous strip's row in the middle of a line.</summary>
        public readonly T* Held = held;

        /// <summary>Whether the runs' first elements complete the lines held by the previous strip (written as one line).</summary>
        public readonly bool JoinHead = joinHead;

        /// <summary>Whether the runs' last elements that end mid-line are held for the next strip rather than stored.</summary>
        public readonly bool HoldTail = holdTail;

        public bool IsEmpty => Source == null;

        public PendingStrip At(T* destination) => new(Source, Pitch, destination, Scale, Width, Held, JoinHead, HoldTail);

        /// <summary>
        /// Writes the elements of run <paramref name="row"/> (at d, from s) before its first aligned line, joined with
        /// the held end of the previous strip where there is one; returns how many it wrote.
        /// </summary>
        public nuint Head(T* d, T* s, int row, bool stream, T* pad)
        {
            nuint width = (nuint)TS.Count;
            nuint head = stream ? Math.Min(Peel(d), (nuint)Width) : 0;
            if (head == 0)
            {
                return 0;
            }

            if (JoinHead)
            {
                var first = TS.Multiply(TS.Load(s), TS.Load(Scale));
                TS.StoreAlignedNonTemporal(TS.Join(TS.Load(Held + (nuint)row * width), first, (int)(width - head), pad), d - (width - head));
                return head;
            }

            for (nuint k = 0; k < head; k++)
            {
                d[k] = s[k] * Scale[k];
            }

            return head;
        }

        /// <summary>
        /// Writes run <paramref name="row"/> from element <paramref name="from"/> (on an aligned line, or 0 without
        /// streaming) to its end: whole vectors, then the rest held for the next strip or stored.
        /// </summary>
        public void Tail(T* d, T* s, int row, nuint from, bool stream)
        {
            nuint width = (nuint)TS.Count;
            nuint length = (nuint)Width;
            nuint whole = from + (length - from) / width * width;
            ScaleStoreLanes(s + from, d + from, Scale + from, whole - from, stream);
            if (whole == length)
            {
                return;
            }

            if (HoldTail && stream && length >= width)
            {
                TS.Store(TS.Multiply(TS.Load(s + length - width), TS.Load(Scale + length - width)), Held + (nuint)row * width);
                return;
            }

            for (nuint k = whole; k < length; k++)
            {
                d[k] = s[k] * Scale[k];
            }
        }
    }
}
