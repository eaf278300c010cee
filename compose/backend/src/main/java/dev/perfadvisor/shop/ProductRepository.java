package dev.perfadvisor.shop;

import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Repository;

import dev.perfadvisor.shop.Model.Category;
import dev.perfadvisor.shop.Model.Product;
import dev.perfadvisor.shop.Model.ProductSummary;
import dev.perfadvisor.shop.Model.Review;
import dev.perfadvisor.shop.Model.TopProduct;

/** Plain SQL over JdbcTemplate, so the statements pg_stat_statements records are exactly the ones below. */
@Repository
public class ProductRepository {

    private final JdbcTemplate jdbc;

    public ProductRepository(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    public List<Category> categories() {
        return jdbc.query("SELECT id, name FROM categories ORDER BY name",
                (rs, i) -> new Category(rs.getLong("id"), rs.getString("name")));
    }

    /** Planted: no index on products(category_id, created_at), so this sorts every product of the category. */
    public List<ProductSummary> byCategoryNewestFirst(long categoryId, int limit, int offset) {
        return jdbc.query("""
                SELECT id, name, category_id, price_cents, created_at FROM products
                WHERE category_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?""",
                (rs, i) -> new ProductSummary(rs.getLong("id"), rs.getString("name"), rs.getLong("category_id"),
                        rs.getInt("price_cents"), rs.getObject("created_at", OffsetDateTime.class)),
                categoryId, limit, offset);
    }

    /** Planted: a leading-wildcard ILIKE without a trigram index is a sequential scan of products. */
    public List<ProductSummary> searchByName(String substring, int limit) {
        return jdbc.query("""
                SELECT id, name, category_id, price_cents, created_at FROM products
                WHERE name ILIKE ? ESCAPE '\\' ORDER BY name, id LIMIT ?""",
                (rs, i) -> new ProductSummary(rs.getLong("id"), rs.getString("name"), rs.getLong("category_id"),
                        rs.getInt("price_cents"), rs.getObject("created_at", OffsetDateTime.class)),
                "%" + escapeLike(substring) + "%", limit);
    }

    public Optional<Product> findById(long id) {
        return jdbc.query("""
                SELECT p.id, p.name, p.description, p.category_id, c.name AS category_name, p.price_cents, p.stock,
                       p.created_at
                FROM products p JOIN categories c ON c.id = p.category_id WHERE p.id = ?""",
                (rs, i) -> new Product(rs.getLong("id"), rs.getString("name"), rs.getString("description"),
                        rs.getLong("category_id"), rs.getString("category_name"), rs.getInt("price_cents"),
                        rs.getInt("stock"), rs.getObject("created_at", OffsetDateTime.class)),
                id).stream().findFirst();
    }

    public boolean exists(long id) {
        Integer n = jdbc.queryForObject("SELECT count(*) FROM products WHERE id = ?", Integer.class, id);
        return n != null && n > 0;
    }

    /** Planted: reviews.product_id is a foreign key without an index. */
    public List<Review> reviews(long productId, int limit) {
        return jdbc.query("""
                SELECT r.id, r.rating, r.title, r.body, c.name AS author, r.created_at
                FROM reviews r JOIN customers c ON c.id = r.customer_id
                WHERE r.product_id = ? ORDER BY r.created_at DESC LIMIT ?""",
                (rs, i) -> new Review(rs.getLong("id"), rs.getInt("rating"), rs.getString("title"),
                        rs.getString("body"), rs.getString("author"), rs.getObject("created_at", OffsetDateTime.class)),
                productId, limit);
    }

    /** An aggregate over every order item of the period; planted: nothing caches it. */
    public List<TopProduct> topProducts(OffsetDateTime since, int limit) {
        return jdbc.query("""
                SELECT p.id, p.name, sum(oi.quantity) AS units, sum(oi.quantity * oi.unit_price_cents) AS revenue
                FROM order_items oi
                JOIN orders o ON o.id = oi.order_id
                JOIN products p ON p.id = oi.product_id
                WHERE o.created_at >= ?
                GROUP BY p.id, p.name ORDER BY units DESC, p.id LIMIT ?""",
                (rs, i) -> new TopProduct(rs.getLong("id"), rs.getString("name"), rs.getLong("units"),
                        rs.getLong("revenue")),
                since, limit);
    }

    static String escapeLike(String s) {
        return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_");
    }
}
