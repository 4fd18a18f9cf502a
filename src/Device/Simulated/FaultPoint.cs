namespace StreamKit.Device;

/// <summary>Where in a session's data stream a simulated fault fires: a byte offset or a fraction of the expected size.</summary>
public readonly record struct FaultPoint
{
    private FaultPoint(long bytes, double fraction, bool isFraction)
    {
        Bytes = bytes;
        Fraction = fraction;
        IsFraction = isFraction;
    }

    /// <summary>Byte offset in the session's stream (when not <see cref="IsFraction"/>).</summary>
    public long Bytes { get; }

    /// <summary>Fraction in [0, 1] of the expected full image size (when <see cref="IsFraction"/>).</summary>
    public double Fraction { get; }

    /// <summary>True for a fraction, false for a byte offset.</summary>
    public bool IsFraction { get; }

    /// <summary>At byte <paramref name="bytes"/> of the session's stream.</summary>
    public static FaultPoint AtBytes(long bytes) =>
        new(bytes >= 0 ? bytes : throw new ArgumentOutOfRangeException(nameof(bytes)), 0, false);

    /// <summary>At <paramref name="fraction"/> (0..1) of the expected full image size.</summary>
    public static FaultPoint AtFraction(double fraction) =>
        new(0, fraction is >= 0 and <= 1 ? fraction : throw new ArgumentOutOfRangeException(nameof(fraction)), true);

    /// <summary>The byte offset for a session whose full image is <paramref name="expectedBytes"/>.</summary>
    public long Resolve(long expectedBytes) => IsFraction ? (long)(Fraction * expectedBytes) : Bytes;

    /// <summary>SPEC form: "40%" or a byte count.</summary>
    public override string ToString() =>
        IsFraction ? $"{(Fraction * 100).ToString("0.####", System.Globalization.CultureInfo.InvariantCulture)}%" : Bytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
