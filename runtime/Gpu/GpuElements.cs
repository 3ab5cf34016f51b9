using ILGPU;
using ILGPU.Runtime.Cuda;

namespace SoftmaxGen.Runtime;

/// <summary>
/// How one element type is stored on the device: loaded into its accumulator type and stored back. Kernels take it as
/// a struct type argument and call <c>default(TElement)</c>, so ILGPU compiles one specialised kernel per type.
/// </summary>
internal interface IGpuElement<TStorage, TAccumulator>
    where TStorage : unmanaged
    where TAccumulator : unmanaged
{
    TAccumulator Load(ArrayView<TStorage> view, int index);

    void Store(ArrayView<TStorage> view, int index, TAccumulator value);
}

/// <summary>
/// An element type that also moves eight elements at once with 16-byte loads and stores (float: two of four, double:
/// four of two, Half: one of eight), for the row kernels (<see cref="GpuKernels.ForwardRowsCached"/> and the others).
/// The index is a multiple of eight, and the view must start on a 16-byte boundary: the launcher checks
/// both before it picks those kernels (<see cref="GpuRows"/>).
/// </summary>
internal interface IGpuVectorElement<TStorage, TAccumulator> : IGpuElement<TStorage, TAccumulator>
    where TStorage : unmanaged
    where TAccumulator : unmanaged
{
    Eight<TAccumulator> LoadEight(ArrayView<TStorage> view, int index);

    void StoreEight(ArrayView<TStorage> view, int index, Eight<TAccumulator> values);
}

/// <summary>Eight values moved together (<see cref="IGpuVectorElement{TStorage, TAccumulator}.LoadEight"/>), in element order.</summary>
internal readonly struct Eight<T>(T a, T b, T c, T d, T e, T f, T g, T h)
    where T : unmanaged
{
    public readonly T A = a;

    public readonly T B = b;

    public readonly T C = c;

    public readonly T D = d;

    public readonly T E = e;

    public readonly T F = f;

    public readonly T G = g;

    public readonly T H = h;
}

/// <summary>Four floats, 16 bytes: one <c>ld.global.v4.f32</c> / <c>st.global.v4.f32</c> in PTX.</summary>
internal readonly struct Float4Bits(float x, float y, float z, float w)
{
    public readonly float X = x;

    public readonly float Y = y;

    public readonly float Z = z;

    public readonly float W = w;
}

/// <summary>Two doubles, 16 bytes: one <c>ld.global.v2.f64</c> / <c>st.global.v2.f64</c> in PTX.</summary>
internal readonly struct Double2Bits(double x, double y)
{
    public readonly double X = x;

    public readonly double Y = y;
}

/// <summary>Four 32-bit words, 16 bytes (eight halves): one <c>ld.global.v4.u32</c> / <c>st.global.v4.u32</c> in PTX.</summary>
internal readonly struct Word4(uint x, uint y, uint z, uint w)
{
    public readonly uint X = x;

    public readonly uint Y = y;

    public readonly uint Z = z;

    public readonly uint W = w;
}

/// <summary>
/// The arithmetic of an accumulator type inside kernels: the few operations softmax needs.
/// </summary>
/// <remarks>
/// exp is computed from basic arithmetic (range reduction, a polynomial, scaling by 2^k through the exponent bits)
/// rather than with <c>MathF.Exp</c>, which PTX only supports through ILGPU.Algorithms: the kernels then run in any
/// ILGPU context, and every backend computes the same function, accurate to about an ulp.
/// </remarks>
internal interface IGpuMath<T>
    where T : unmanaged
{
    T Zero { get; }

    T One { get; }

    T NegativeInfinity { get; }

    T PositiveInfinity { get; }

    /// <summary>The accumulator value nearest <paramref name="value"/> (a float argument such as a scale).</summary>
    T FromSingle(float value);

    /// <summary>The float nearest <paramref name="value"/> (a result kept in float, such as attention's log-sum-exp).</summary>
    float ToSingle(T value);

    bool IsZero(T x);

    bool IsNegativeInfinity(T x);

    bool IsPositiveInfinity(T x);

    bool IsNaN(T x);

    /// <summary>The natural logarithm of x ≥ 1 (a slice's sum of exp), to about an ulp.</summary>
    T Log(T x);

    T Add(T left, T right);

    T Subtract(T left, T right);

    T Multiply(T left, T right);

    /// <summary>The larger of the two; a NaN operand may be dropped (the sum of exponentials carries it instead).</summary>
    T Max(T left, T right);

    /// <summary>e^x for x ≤ 0 or NaN, the only arguments softmax produces.</summary>
    T Exp(T x);

    /// <summary>The shift subtracted before exp: the slice max, or 0 for a fully masked slice (max = -∞).</summary>
    T Shift(T max);

    /// <summary>1 / sum, or 0 when the sum is 0 (a fully masked slice), so that its outputs are 0.</summary>
    T Reciprocal(T sum);

    /// <summary>The running sum of an online pass, made NaN when the max is +∞, as the three-pass algorithm would make it.</summary>
    T PoisonIfInfinite(T max, T sum);

    /// <summary>One step of an online pass: folds x into the running (max, sum) with one exp.</summary>
    void Accumulate(ref T max, ref T sum, T x);

    /// <summary>Combines two online (max, sum) pairs into the pair of their union.</summary>
    void Combine(ref T max, ref T sum, T otherMax, T otherSum);
}

/// <summary><see cref="float"/> elements.</summary>
internal readonly struct GpuSingle : IGpuVectorElement<float, float>
{
    public float Load(ArrayView<float> view, int index) => view[index];

    public void Store(ArrayView<float> view, int index, float value) => view[index] = value;

    public Eight<float> LoadEight(ArrayView<float> view, int index)
    {
        var quads = view.Cast<Float4Bits>();
        int at = index >> 2;
        var x = quads[at];
        var y = quads[at + 1];
        return new Eight<float>(x.X, x.Y, x.Z, x.W, y.X, y.Y, y.Z, y.W);
    }

    public void StoreEight(ArrayView<float> view, int index, Eight<float> values)
    {
        var quads = view.Cast<Float4Bits>();
        int at = index >> 2;
        quads[at] = new Float4Bits(values.A, values.B, values.C, values.D);
        quads[at + 1] = new Float4Bits(values.E, values.F, values.G, values.H);
    }
}

/// <summary><see cref="double"/> elements.</summary>
internal readonly struct GpuDouble : IGpuVectorElement<double, double>
{
    public double Load(ArrayView<double> view, int index) => view[index];

    public void Store(ArrayView<double> view, int index, double value) => view[index] = value;

    public Eight<double> LoadEight(ArrayView<double> view, int index)
    {
        var pairs = view.Cast<Double2Bits>();
        int at = index >> 1;
        var x = pairs[at];
        var y = pairs[at + 1];
        var z = pairs[at + 2];
        var w = pairs[at + 3];
        return new Eight<double>(x.X, x.Y, y.X, y.Y, z.X, z.Y, w.X, w.Y);
    }

    public void StoreEight(ArrayView<double> view, int index, Eight<double> values)
    {
        var pairs = view.Cast<Double2Bits>();
        int at = index >> 1;
        pairs[at] = new Double2Bits(values.A, values.B);
        pairs[at + 1] = new Double2Bits(values.C, values.D);
        pairs[at + 2] = new Double2Bits(values.E, values.F);
        pairs[at + 3] = new Double2Bits(values.G, values.H);
    }
}

/// <summary>Half elements (ILGPU's <see cref="Half"/>, the same bits as <see cref="System.Half"/>), computed in float.</summary>
internal readonly struct GpuHalf : IGpuVectorElement<Half, float>
{
    public float Load(ArrayView<Half> view, int index) => (float)view[index];

    public void Store(ArrayView<Half> view, int index, float value) => view[index] = (Half)value;

    /// <remarks>Eight halves as four 32-bit words, each holding element 2i in its low half and 2i + 1 in its high half.</remarks>
    public Eight<float> LoadEight(ArrayView<Half> view, int index)
    {
        var x = view.Cast<Word4>()[index >> 3];
        return new Eight<float>(Low(x.X), High(x.X), Low(x.Y), High(x.Y), Low(x.Z), High(x.Z), Low(x.W), High(x.W));
    }

    public void StoreEight(ArrayView<Half> view, int index, Eight<float> values) =>
        view.Cast<Word4>()[index >> 3] = new Word4(Pack(values.A, values.B), Pack(values.C, values.D), Pack(values.E, values.F), Pack(values.G, values.H));

    private static float Low(uint word) => (float)Interop.IntAsFloat((ushort)(word & 0xFFFFu));

    private static float High(uint word) => (float)Interop.IntAsFloat((ushort)(word >> 16));

    /// <summary>Two values rounded to Half as <see cref="Store"/> rounds them, packed into one word.</summary>
    private static uint Pack(float low, float high) => Interop.FloatAsInt((Half)low) | ((uint)Interop.FloatAsInt((Half)high) << 16);
}

/// <summary>
/// The forward kernels' loads of A: the logits z = scale · A, plus the bias, and −∞ where the mask or the causal mask
/// excludes the element (whatever A holds there), as the layout places each element
/// (<see cref="ISoftmaxLayout.Locate"/>). Stores are the inner element's. Passed to the kernels as a parameter, so the
/// scale and the option views travel with it; a layout without options reads neither.
/// </summary>
/// <remarks>
/// <see cref="LoadEight"/> serves the row kernels (aligned rows, <see cref="GpuRows"/>) and the eight-wide lanes
/// kernels (eight adjacent slices a thread, <see cref="GpuLanes"/>): eight neighbouring elements along the last axis
/// within one run, A's eight coming with one 16-byte move of the inner element; the first one's place is located once
/// for all eight, and the options are then applied element by element in registers with the same operations as
/// <see cref="Load"/>, so each logit has the same bits either way. Along the last axis the bias and mask offsets move
/// by the layout's run strides (1 or 0) and the causal index along it by 1: a bias contiguous along it is itself loaded
/// eight at a time where its view starts on a 16-byte boundary (its runs then start on one too, as A's do), a mask
/// contiguous along it as one 8-byte word where the run length is a multiple of eight and its view starts on an 8-byte
/// boundary; otherwise their entries are read one at a time (a broadcast one once for all eight).
/// </remarks>
internal readonly struct GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> : IGpuVectorElement<TStorage, TAccumulator>
    where TStorage : unmanaged
    where TAccumulator : unmanaged
    where TElement : struct, IGpuVectorElement<TStorage, TAccumulator>
    where TMath : struct, IGpuMath<TAccumulator>
    where TLayout : struct, IGpuSoftmaxLayout
{
    private readonly TAccumulator _scale;
    private readonly ArrayView<byte> _mask;
    private readonly ArrayView<TStorage> _bias;
    private readonly TLayout _layout;
    private readonly int _biasEight;
    private readonly int _maskEight;

    /// <param name="scale">The scale of A.</param>
    /// <param name="mask">The mask (empty without one).</param>
    /// <param name="bias">The bias (empty without one).</param>
    /// <param name="layout">The layout.</param>
    /// <param name="biasEight">Whether <see cref="LoadEight"/> may load the bias eight at a time (an int: kernel parameters are blittable).</param>
    /// <param name="maskEight">Whether <see cref="LoadEight"/> may load the mask as one 8-byte word.</param>
    public GpuInputLoads(TAccumulator scale, ArrayView<byte> mask, ArrayView<TStorage> bias, TLayout layout, int biasEight, int maskEight)
    {
        _scale = scale;
        _mask = mask;
        _bias = bias;
        _layout = layout;
        _biasEight = biasEight;
        _maskEight = maskEight;
    }

    public TAccumulator Load(ArrayView<TStorage> view, int index) => Logit(default(TElement).Load(view, index), index);

    /// <summary>
    /// The logit of element <paramref name="index"/> from A's value there, <paramref name="x"/>, as the inner element
    /// loads it: what <see cref="Load"/> gives, for a kernel that issues its loads of A before it uses any of them.
    /// </summary>
    public TAccumulator Logit(TAccumulator x, int index)
    {
        var math = default(TMath);
        var z = math.Multiply(x, _scale);
        if (!_layout.HasMask && !_layout.HasBias && !_layout.HasCausal)
        {
            return z;
        }

        var at = _layout.Locate(index);
        if (_layout.HasBias)
        {
            z = math.Add(z, default(TElement).Load(_bias, at.Bias));
        }

        bool excluded = (_layout.HasMask && _mask[at.Mask] == 0) || (_layout.HasCausal && at.Key > at.Query + _layout.CausalShift);
        return excluded ? math.NegativeInfinity : z;
    }

    /// <summary>
    /// The logits of elements <paramref name="index"/> to <paramref name="index"/> + 7 of one run (a row, or a row of
    /// lanes), A moved with one 16-byte load of the inner element: the index is a multiple of eight from the run's
    /// start, and the run is aligned.
    /// </summary>
    public Eight<TAccumulator> LoadEight(ArrayView<TStorage> view, int index) => LogitsEight(default(TElement).LoadEight(view, index), index);

    /// <summary>
    /// The logits of elements <paramref name="index"/> to <paramref name="index"/> + 7 of one row from A's values there,
    /// <paramref name="x"/>, as the inner element's 16-byte move brings them: what <see cref="LoadEight"/> gives, for a
    /// kernel that issues its loads of A before it uses any of them.
    /// </summary>
    public Eight<TAccumulator> LogitsEight(Eight<TAccumulator> x, int index)
    {
        var math = default(TMath);
        var z = new Eight<TAccumulator>(
            math.Multiply(x.A, _scale), math.Multiply(x.B, _scale), math.Multiply(x.C, _scale), math.Multiply(x.D, _scale),
            math.Multiply(x.E, _scale), math.Multiply(x.F, _scale), math.Multiply(x.G, _scale), math.Multiply(x.H, _scale));
        if (!_layout.HasMask && !_layout.HasBias && !_layout.HasCausal)
        {
            return z;
        }

        var at = _layout.Locate(index);
        if (_layout.HasBias)
        {
            var bias = BiasEight(at.Bias);
            z = new Eight<TAccumulator>(
                math.Add(z.A, bias.A), math.Add(z.B, bias.B), math.Add(z.C, bias.C), math.Add(z.D, bias.D),
                math.Add(z.E, bias.E), math.Add(z.F, bias.F), math.Add(z.G, bias.G), math.Add(z.H, bias.H));
        }

        int excluded = (_layout.HasMask ? MaskedEight(at.Mask) : 0) | (_layout.HasCausal ? CausalEight(at) : 0);
        if (excluded == 0)
        {
            return z;
        }

        var none = math.NegativeInfinity;
        return new Eight<TAccumulator>(
            (excluded & 1) != 0 ? none : z.A, (excluded & 2) != 0 ? none : z.B, (excluded & 4) != 0 ? none : z.C, (excluded & 8) != 0 ? none : z.D,
            (excluded & 16) != 0 ? none : z.E, (excluded & 32) != 0 ? none : z.F, (excluded & 64) != 0 ? none : z.G, (excluded & 128) != 0 ? none : z.H);
    }

    public void Store(ArrayView<TStorage> view, int index, TAccumulator value) => default(TElement).Store(view, index, value);

    public void StoreEight(ArrayView<TStorage> view, int index, Eight<TAccumulator> values) => default(TElement).StoreEight(view, index, values);

    /// <summary>The bias entries of eight elements from the first one's offset.</summary>
    private Eight<TAccumulator> BiasEight(int offset)
    {
        var element = default(TElement);
        if (_layout.BiasRunStride == 0)
        {
            var shared = element.Load(_bias, offset);
            return new Eight<TAccumulator>(shared, shared, shared, shared, shared, shared, shared, shared);
        }

        return _biasEight != 0
            ? element.LoadEight(_bias, offset)
            : new Eight<TAccumulator>(
                element.Load(_bias, offset), element.Load(_bias, offset + 1), element.Load(_bias, offset + 2), element.Load(_bias, offset + 3),
                element.Load(_bias, offset + 4), element.Load(_bias, offset + 5), element.Load(_bias, offset + 6), element.Load(_bias, offset + 7));
    }

    /// <summary>Bit j set where the mask entry of element j of eight is 0, from the first one's offset.</summary>
    private int MaskedEight(int offset)
    {
        if (_layout.MaskRunStride == 0)
        {
            return _mask[offset] == 0 ? 0xFF : 0;
        }

        int excluded = 0;
        if (_maskEight != 0)
        {
            ulong word = _mask.Cast<ulong>()[offset >> 3]; // entry j in byte j: device memory is little-endian
            for (int j = 0; j < 8; j++)
            {
                excluded |= ((word >> (8 * j)) & 0xFFUL) == 0 ? 1 << j : 0;
            }

            return excluded;
        }

        for (int j = 0; j < 8; j++)
        {
            excluded |= _mask[offset + j] == 0 ? 1 << j : 0;
        }

        return excluded;
    }

    /// <summary>Bit j set where element j of eight is past the causal diagonal: the key index k beyond q + K − Q.</summary>
    private int CausalEight(ElementPlace at)
    {
        var run = _layout.CausalRun;
        int excluded = 0;
        for (int j = 0; j < 8; j++)
        {
            int query = at.Query + (run == CausalRun.Query ? j : 0);
            int key = at.Key + (run == CausalRun.Key ? j : 0);
            excluded |= key > query + _layout.CausalShift ? 1 << j : 0;
        }

        return excluded;
    }
}

/// <summary>An element whose stores are multiplied by a scale: the backward's dA and the Jacobian's entries. Loads are the inner element's.</summary>
internal readonly struct GpuScaledStores<TStorage, TAccumulator, TElement, TMath> : IGpuElement<TStorage, TAccumulator>
    where TStorage : unmanaged
    where TAccumulator : unmanaged
    where TElement : struct, IGpuElement<TStorage, TAccumulator>
    where TMath : struct, IGpuMath<TAccumulator>
{
    private readonly TAccumulator _scale;

    public GpuScaledStores(TAccumulator scale) => _scale = scale;

    public TAccumulator Load(ArrayView<TStorage> view, int index) => default(TElement).Load(view, index);

    public void Store(ArrayView<TStorage> view, int index, TAccumulator value) => default(TElement).Store(view, index, default(TMath).Multiply(value, _scale));
}

/// <summary>
/// Arithmetic in float (for float and Half elements), with the exp <typeparamref name="TExp"/>: <see cref="GpuExp"/>, or
/// for a layout declared with <c>ApproximateGpuExp = true</c> <see cref="GpuApproximateExp{TExp2}"/>.
/// </summary>
internal readonly struct GpuFloatMath<TExp> : IGpuMath<float>
    where TExp : struct, IGpuFloatExp
{
    public float Zero => 0f;

    public float One => 1f;

    public float NegativeInfinity => float.NegativeInfinity;

    public float PositiveInfinity => float.PositiveInfinity;

    public float FromSingle(float value) => value;

    public float ToSingle(float value) => value;

    public bool IsZero(float x) => x == 0f;

    public bool IsNegativeInfinity(float x) => x == float.NegativeInfinity;

    public bool IsPositiveInfinity(float x) => x == float.PositiveInfinity;

    public bool IsNaN(float x) => float.IsNaN(x);

    public float Log(float x) => GpuMath.Log(x);

    public float Add(float left, float right) => left + right;

    public float Subtract(float left, float right) => left - right;

    public float Multiply(float left, float right) => left * right;

    public float Max(float left, float right) => right > left ? right : left;

    public float Exp(float x) => default(TExp).Exp(x);

    public float Shift(float max) => max == float.NegativeInfinity ? 0f : max;

    public float Reciprocal(float sum) => sum == 0f ? 0f : 1f / sum;

    public float PoisonIfInfinite(float max, float sum) => max == float.PositiveInfinity ? float.NaN : sum;

    public void Accumulate(ref float max, ref float sum, float x) => GpuMath.Accumulate<TExp>(ref max, ref sum, x);

    public void Combine(ref float max, ref float sum, float otherMax, float otherSum) => GpuMath.Combine<TExp>(ref max, ref sum, otherMax, otherSum);
}

/// <summary>The exp of a float arithmetic (<see cref="GpuFloatMath{TExp}"/>), picked per layout and accelerator on the host.</summary>
internal interface IGpuFloatExp
{
    float Exp(float x);
}

/// <summary>The default exp (<see cref="GpuMath.Exp(float)"/>): the degree-6 polynomial, within the CPU's bounds.</summary>
internal readonly struct GpuExp : IGpuFloatExp
{
    public float Exp(float x) => GpuMath.Exp(x);
}

/// <summary>
/// The approximate exp (<see cref="GpuMath.FastExp{TExp2}"/>) that a layout declared with <c>ApproximateGpuExp = true</c>
/// runs, with <see cref="CudaExp2"/> on CUDA and <see cref="PortableExp2"/> elsewhere.
/// </summary>
internal readonly struct GpuApproximateExp<TExp2> : IGpuFloatExp
    where TExp2 : struct, IGpuExp2
{
    public float Exp(float x) => GpuMath.FastExp<TExp2>(x);
}

/// <summary>
/// 2^u for |u| ≤ ½ (or NaN), the core of the approximate exp (<see cref="GpuMath.FastExp{TExp2}"/>). The launcher picks
/// the implementation per accelerator on the host, so that each kernel holds one of them and no branch on the backend.
/// </summary>
internal interface IGpuExp2
{
    float Exp2(float u);
}

/// <summary>CUDA's <c>ex2.approx.ftz.f32</c> as inline PTX: one special-function instruction, about 2 ulp. CUDA kernels only.</summary>
internal readonly struct CudaExp2 : IGpuExp2
{
    public float Exp2(float u)
    {
        CudaAsm.Emit("ex2.approx.ftz.f32 %0, %1;", out float power, u);
        return power;
    }
}

/// <summary>The same 2^u as arithmetic (<see cref="GpuMath.Exp2Reduced"/>), about an ulp: ILGPU's CPU accelerator and other backends.</summary>
internal readonly struct PortableExp2 : IGpuExp2
{
    public float Exp2(float u) => GpuMath.Exp2Reduced(u);
}

/// <summary>Arithmetic in double.</summary>
internal readonly struct GpuDoubleMath : IGpuMath<double>
{
    public double Zero => 0.0;

    public double One => 1.0;

    public double NegativeInfinity => double.NegativeInfinity;

    public double PositiveInfinity => double.PositiveInfinity;

    public double FromSingle(float value) => value;

    public float ToSingle(double value) => (float)value;

    public bool IsZero(double x) => x == 0.0;

    public bool IsNegativeInfinity(double x) => x == double.NegativeInfinity;

    public bool IsPositiveInfinity(double x) => x == double.PositiveInfinity;

    public bool IsNaN(double x) => double.IsNaN(x);

    public double Log(double x) => GpuMath.Log(x);

    public double Add(double left, double right) => left + right;

    public double Subtract(double left, double right) => left - right;

    public double Multiply(double left, double right) => left * right;

    public double Max(double left, double right) => right > left ? right : left;

    public double Exp(double x) => GpuMath.Exp(x);

    public double Shift(double max) => max == double.NegativeInfinity ? 0.0 : max;

    public double Reciprocal(double sum) => sum == 0.0 ? 0.0 : 1.0 / sum;

    public double PoisonIfInfinite(double max, double sum) => max == double.PositiveInfinity ? double.NaN : sum;

    public void Accumulate(ref double max, ref double sum, double x) => GpuMath.Accumulate(ref max, ref sum, x);

    public void Combine(ref double max, ref double sum, double otherMax, double otherSum) => GpuMath.Combine(ref max, ref sum, otherMax, otherSum);
}

/// <summary>Scalar exp and the online-softmax combination, written for ILGPU kernels (no library intrinsics).</summary>
internal static class GpuMath
{
    /// <summary>
    /// e^x for x ≤ 0, -∞ or NaN (what softmax passes: an element minus its slice's max, or a difference of maxima), to
    /// about an ulp, and 0 where e^x is below the normal range: the exp of every path (<see cref="ExpConstants"/>).
    /// Positive x is outside that contract: past x ≈ 88 (double: 709) the exponent built for 2^k overflows its field.
    /// </summary>
    public static float Exp(float x)
    {
        // A NaN x fails the comparison and the clamp, and stays NaN through to the result.
        bool below = x < ExpConstants.FloatNormalBound;
        x = below ? ExpConstants.FloatNormalBound : x;
        float shifted = x * ExpConstants.FloatLog2E + ExpConstants.FloatShifter;
        float k = shifted - ExpConstants.FloatShifter;
        float r = x - k * ExpConstants.FloatLn2High;
        r = r - k * ExpConstants.FloatLn2Low;
        float p = ExpConstants.FloatC6 * r + ExpConstants.FloatC5;
        p = p * r + ExpConstants.FloatC4;
        p = p * r + ExpConstants.FloatC3;
        p = p * r + ExpConstants.FloatC2;
        p = p * r + 1f;
        p = p * r + 1f;
        // 2^k from shifted's low bits, which hold k: shifting them into the exponent field drops the shifter's own bits.
        float result = p * Interop.IntAsFloat((Interop.FloatAsInt(shifted) + 127) << 23);
        return below ? 0f : result;
    }

    /// <summary>
    /// e^x for the same arguments as <see cref="Exp(float)"/> with an approximate 2^u in place of the polynomial: x = k ln 2
    /// + r as in <see cref="Exp(float)"/>, then e^x = 2^(r · log2 e) · 2^k, about 2 ulp with CUDA's <c>ex2.approx</c>
    /// (<see cref="CudaExp2"/>). Reducing x first keeps the argument of 2^u within ±½, so that rounding r · log2 e costs
    /// at most a quarter ulp; 2^(x · log2 e) taken whole would lose about |x| / 2 ulp to the rounding of x · log2 e (some
    /// 40 ulp at x = −80).
    /// </summary>
    public static float FastExp<TExp2>(float x)
        where TExp2 : struct, IGpuExp2
    {
        bool below = x < ExpConstants.FloatNormalBound;
        x = below ? ExpConstants.FloatNormalBound : x;
        float shifted = x * ExpConstants.FloatLog2E + ExpConstants.FloatShifter;
        float k = shifted - ExpConstants.FloatShifter;
        float r = x - k * ExpConstants.FloatLn2High;
        r = r - k * ExpConstants.FloatLn2Low;
        float power = default(TExp2).Exp2(r * ExpConstants.FloatLog2E);
        float result = power * Interop.IntAsFloat((Interop.FloatAsInt(shifted) + 127) << 23);
        return below ? 0f : result;
    }

    /// <summary>
    /// 2^u for |u| ≤ ½ (or NaN), to about an ulp: the Taylor series of e^(u ln 2) to degree 7, whose first omitted term
    /// is below 6e-9 there. The portable stand-in for <c>ex2.approx</c> (<see cref="PortableExp2"/>).
    /// </summary>
    public static float Exp2Reduced(float u)
    {
        float p = ExpConstants.Exp2C7 * u + ExpConstants.Exp2C6;
        p = p * u + ExpConstants.Exp2C5;
        p = p * u + ExpConstants.Exp2C4;
        p = p * u + ExpConstants.Exp2C3;
        p = p * u + ExpConstants.Exp2C2;
        p = p * u + ExpConstants.Exp2C1;
        return p * u + 1f;
    }

    /// <inheritdoc cref="Exp(float)"/>
    public static double Exp(double x)
    {
        bool below = x < ExpConstants.DoubleNormalBound;
        x = below ? ExpConstants.DoubleNormalBound : x;
        double shifted = x * ExpConstants.DoubleLog2E + ExpConstants.DoubleShifter;
        double k = shifted - ExpConstants.DoubleShifter;
        double r = x - k * ExpConstants.DoubleLn2High;
        r = r - k * ExpConstants.DoubleLn2Low;
        double p = ExpConstants.DoubleC13 * r + ExpConstants.DoubleC12;
        p = p * r + ExpConstants.DoubleC11;
        p = p * r + ExpConstants.DoubleC10;
        p = p * r + ExpConstants.DoubleC9;
        p = p * r + ExpConstants.DoubleC8;
        p = p * r + ExpConstants.DoubleC7;
        p = p * r + ExpConstants.DoubleC6;
        p = p * r + ExpConstants.DoubleC5;
        p = p * r + ExpConstants.DoubleC4;
        p = p * r + ExpConstants.DoubleC3;
        p = p * r + ExpConstants.DoubleC2;
        p = p * r + 1.0;
        p = p * r + 1.0;
        double result = p * Interop.IntAsFloat((Interop.FloatAsInt(shifted) + 1023) << 52);
        return below ? 0.0 : result;
    }

    /// <summary>
    /// ln x for x ≥ 1, +∞ or NaN (a slice's sum of exp, taken once per slice): x = 2^e · m with m in [√½, √2), and
    /// ln m = 2 atanh(s) with s = (m − 1) / (m + 1), |s| ≤ 0.172, from its series; about an ulp.
    /// </summary>
    public static float Log(float x)
    {
        if (!(x < float.PositiveInfinity))
        {
            return x; // +∞ and NaN
        }

        uint bits = Interop.FloatAsInt(x);
        int e = (int)(bits >> 23) - 127;
        float m = Interop.IntAsFloat((bits & 0x7FFFFFu) | 0x3F800000u);
        if (m > 1.41421356f)
        {
            m *= 0.5f;
            e++;
        }

        float s = (m - 1f) / (m + 1f);
        float s2 = s * s;
        float series = 1f + s2 * (1f / 3f + s2 * (1f / 5f + s2 * (1f / 7f + s2 * (1f / 9f))));
        return e * 0.693359375f + (e * -2.12194440e-4f + 2f * s * series);
    }

    /// <inheritdoc cref="Log(float)"/>
    public static double Log(double x)
    {
        if (!(x < double.PositiveInfinity))
        {
            return x;
        }

        ulong bits = Interop.FloatAsInt(x);
        long e = (long)(bits >> 52) - 1023;
        double m = Interop.IntAsFloat((bits & 0xFFFFFFFFFFFFFUL) | 0x3FF0000000000000UL);
        if (m > 1.4142135623730951)
        {
            m *= 0.5;
            e++;
        }

        double s = (m - 1.0) / (m + 1.0);
        double s2 = s * s;
        double series = 1.0 / 21.0;
        series = series * s2 + 1.0 / 19.0;
        series = series * s2 + 1.0 / 17.0;
        series = series * s2 + 1.0 / 15.0;
        series = series * s2 + 1.0 / 13.0;
        series = series * s2 + 1.0 / 11.0;
        series = series * s2 + 1.0 / 9.0;
        series = series * s2 + 1.0 / 7.0;
        series = series * s2 + 1.0 / 5.0;
        series = series * s2 + 1.0 / 3.0;
        series = series * s2 + 1.0;
        return e * ExpConstants.DoubleLn2High + (e * ExpConstants.DoubleLn2Low + 2.0 * s * series);
    }

    /// <summary>
    /// Folds x into a running (max, sum): a larger x rescales what was summed so far, a masked x (-∞) adds nothing,
    /// a NaN makes the sum NaN. With max still -∞ the old sum is 0 and e^(-∞) rounds to 0, so the rescale is exact.
    /// </summary>
    public static void Accumulate<TExp>(ref float max, ref float sum, float x)
        where TExp : struct, IGpuFloatExp
    {
        if (x > max)
        {
            sum = sum * default(TExp).Exp(max - x) + 1f;
            max = x;
        }
        else if (x != float.NegativeInfinity)
        {
            sum += default(TExp).Exp(x - max);
        }
    }

    /// <inheritdoc cref="Accumulate{TExp}(ref float, ref float, float)"/>
    public static void Accumulate(ref double max, ref double sum, double x)
    {
        if (x > max)
        {
            sum = sum * Exp(max - x) + 1.0;
            max = x;
        }
        else if (x != double.NegativeInfinity)
        {
            sum += Exp(x - max);
        }
    }

    /// <summary>
    /// (m, s) ⊕ (m', s') = (M, s e^{m - M} + s' e^{m' - M}) with M = max(m, m'). A side whose max is -∞ adds its sum as
    /// it is: 0, or NaN when a NaN went into it (a NaN never raises the max).
    /// </summary>
    public static void Combine<TExp>(ref float max, ref float sum, float otherMax, float otherSum)
        where TExp : struct, IGpuFloatExp
    {
        float combined = otherMax > max ? otherMax : max;
        float left = max == float.NegativeInfinity ? sum : sum * default(TExp).Exp(max - combined);
        float right = otherMax == float.NegativeInfinity ? otherSum : otherSum * default(TExp).Exp(otherMax - combined);
        max = combined;
        sum = left + right;
    }

    /// <inheritdoc cref="Combine{TExp}(ref float, ref float, float, float)"/>
    public static void Combine(ref double max, ref double sum, double otherMax, double otherSum)
    {
        double combined = otherMax > max ? otherMax : max;
        double left = max == double.NegativeInfinity ? sum : sum * Exp(max - combined);
        double right = otherMax == double.NegativeInfinity ? otherSum : otherSum * Exp(otherMax - combined);
        max = combined;
        sum = left + right;
    }
}
