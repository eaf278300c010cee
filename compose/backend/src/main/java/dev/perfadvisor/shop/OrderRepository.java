package dev.perfadvisor.shop;

import java.sql.PreparedStatement;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.support.GeneratedKeyHolder;
import org.springframework.stereotype.Repository;

import dev.perfadvisor.shop.Model.Order;
import dev.perfadvisor.shop.Model.OrderItem;

@Repository
public class OrderRepository {

    /** Price and stock of one product, read under a row lock while an order is placed. */
    public record StockRow(int priceCents, int stock) {
    }

    private final JdbcTemplate jdbc;

    public OrderRepository(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    public boolean customerExists(long customerId) {
        Integer n = jdbc.queryForObject("SELECT count(*) FROM customers WHERE id = ?", Integer.class, customerId);
        return n != null && n > 0;
    }

    /** Planted: no index on orders(customer_id), so every history page scans orders. */
    public List<Order> recentOrders(long customerId, int limit) {
        return jdbc.query("""
                SELECT id, status, total_cents, created_at FROM orders
                WHERE customer_id = ? ORDER BY created_at DESC LIMIT ?""",
                (rs, i) -> new Order(rs.getLong("id"), rs.getString("status"), rs.getLong("total_cents"),
                        rs.getObject("created_at", OffsetDateTime.class), List.of()),
                customerId, limit);
    }

    /** Called once per order by the history endpoint: the planted N+1. */
    public List<OrderItem> itemsOf(long orderId) {
        return jdbc.query("""
                SELECT oi.product_id, p.name, oi.quantity, oi.unit_price_cents
                FROM order_items oi JOIN products p ON p.id = oi.product_id
                WHERE oi.order_id = ? ORDER BY oi.id""",
                (rs, i) -> new OrderItem(rs.getLong("product_id"), rs.getString("name"), rs.getInt("quantity"),
                        rs.getInt("unit_price_cents")),
                orderId);
    }

    public Optional<StockRow> lockStock(long productId) {
        return jdbc.query("SELECT price_cents, stock FROM products WHERE id = ? FOR UPDATE",
                (rs, i) -> new StockRow(rs.getInt("price_cents"), rs.getInt("stock")), productId)
                .stream().findFirst();
    }

    public void decrementStock(long productId, int quantity) {
        jdbc.update("UPDATE products SET stock = stock - ? WHERE id = ?", quantity, productId);
    }

    public long insertOrder(long customerId, long totalCents) {
        var keys = new GeneratedKeyHolder();
        jdbc.update(con -> {
            PreparedStatement ps = con.prepareStatement(
                    "INSERT INTO orders (customer_id, status, total_cents, created_at) VALUES (?, 'placed', ?, ?)",
                    new String[] {"id"});
            ps.setLong(1, customerId);
            ps.setLong(2, totalCents);
            ps.setObject(3, OffsetDateTime.now());
            return ps;
        }, keys);
        return keys.getKeyAs(Number.class).longValue();
    }

    public void insertItem(long orderId, long productId, int quantity, int unitPriceCents) {
        jdbc.update("INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents) VALUES (?, ?, ?, ?)",
                orderId, productId, quantity, unitPriceCents);
    }

}
