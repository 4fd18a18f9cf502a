namespace StreamKit.Transport.Rdma;

/// <summary>A fixed-capacity FIFO of ints (slot numbers), allocation-free after construction.</summary>
internal sealed class IntRing(int capacity)
{
    private readonly int[] _items = new int[capacity];
    private int _head;

    internal int Count { get; private set; }

    internal void Enqueue(int item)
    {
        if (Count == _items.Length) throw new InvalidOperationException("ring is full");
        _items[(_head + Count) % _items.Length] = item;
        Count++;
    }

    internal int Dequeue()
    {
        if (Count == 0) throw new InvalidOperationException("ring is empty");
        int item = _items[_head];
        _head = (_head + 1) % _items.Length;
        Count--;
        return item;
    }

    internal void Clear()
    {
        _head = 0;
        Count = 0;
    }
}
